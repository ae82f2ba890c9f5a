"""Load and validate policy files: YAML (no duplicate keys, no aliases) + JSON Schema."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml

from provcheck._internal.files import read_capped
from provcheck.discovery.model import TrustLevel
from provcheck.errors import KeyResolutionError, PolicyError, PolicyMistakesError, SbomError
from provcheck.oci.platform import Platform
from provcheck.policy.exemptions import Exemption, parse_expiry
from provcheck.policy.model import (
    DEFAULT_SBOM_GENERATORS,
    EVIDENCE_KINDS,
    BaseImagesOptions,
    BuildArgsOptions,
    BuilderOptions,
    FrontendOptions,
    PlatformsOptions,
    Policy,
    ProvenanceOptions,
    RuleOptions,
    SbomOptions,
    min_trust_problem,
)
from provcheck.policy.resolver import FileResolver, KeyResolver, NoResolver
from provcheck.report.escape import escape_text
from provcheck.report.model import OnIncomplete
from provcheck.sbom.licenses import LicenseRules
from provcheck.sbom.model import SbomFormat
from provcheck.sbom.versions import parse_purl_pattern

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

    from provcheck.attestation.keys import PublicKey

MAX_POLICY_BYTES: Final = 1024 * 1024
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_Path = tuple[str | int, ...]

try:
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment,attr-defined,unused-ignore]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("provcheck.policy").joinpath("schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(_schema())
    return Draft202012Validator(_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


class _Mistakes:
    """The mistakes found in one policy file, each with its line (collected, never raised one by
    one, so that ``policy lint`` shows them all)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[tuple[int, str]] = []
        self.explained: set[int] = set()
        """Lines whose schema violations a mistake already explains better."""

    def add(self, line: int, message: str, *, explains_line: bool = False) -> None:
        """Record ``message`` for ``line``; ``explains_line``: the schema's own message about
        this line would only repeat it less clearly (a key read as a boolean, say)."""
        self.found.append((line, f"{self.source}:{line}: {escape_text(message)}"))
        if explains_line:
            self.explained.add(line)

    def error(self) -> PolicyMistakesError:
        """Every mistake found, de-duplicated and sorted by line, as one error."""
        ordered = sorted(set(self.found))
        return PolicyMistakesError(tuple(dict.fromkeys(message for _, message in ordered)))

    def raise_any(self) -> None:
        """Raise :meth:`error` when a mistake was found."""
        if self.found:
            raise self.error()


def _walk(
    node: yaml.Node, path: _Path, lines: dict[_Path, int], seen: set[int], mistakes: _Mistakes
) -> bool:
    """Record the line of every key/item; report aliases, odd keys and duplicates.

    Returns False when the document must not be constructed (aliases or merge keys: a YAML bomb
    is built only by construction).
    """
    if id(node) in seen:
        mistakes.add(node.start_mark.line + 1, "YAML anchors and aliases are not allowed")
        return False
    seen.add(id(node))
    ok = True
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                mistakes.add(line, "YAML merge keys ('<<') are not allowed")
                ok = False
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                text = getattr(key_node, "value", "?")
                mistakes.add(
                    line,
                    f"key {str(text)[:60]!r} is not read as a string "
                    "(YAML 1.1 turns on/off/yes/no into booleans); quote it",
                    explains_line=True,
                )
                key = str(text)
            else:
                key = key_node.value
            if key in keys:
                mistakes.add(line, f"duplicate key {key!r} (first defined on line {keys[key]})")
            keys.setdefault(key, line)
            lines[(*path, key)] = line  # the last one wins, in the data too
            ok = _walk(value_node, (*path, key), lines, seen, mistakes) and ok
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            ok = _walk(item, (*path, i), lines, seen, mistakes) and ok
    return ok


def _load_yaml(text: str, mistakes: _Mistakes) -> tuple[Any, dict[_Path, int]]:
    """The document and the line of every key; structural mistakes are added to ``mistakes``.

    Raises :class:`PolicyError` when there is no document to validate.
    """
    source = mistakes.source
    loader = _BaseLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PolicyError(f"{source}: the policy file is empty")
        lines: dict[_Path, int] = {(): node.start_mark.line + 1}
        if not _walk(node, (), lines, set(), mistakes):
            mistakes.raise_any()
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is None:
            raise PolicyError(f"{source}: invalid YAML: {exc.problem or exc.context}") from exc
        mistakes.add(mark.line + 1, f"invalid YAML: {exc.problem or exc.context}")
        raise mistakes.error() from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: invalid YAML: {str(exc)[:200]}") from exc
    except RecursionError as exc:
        raise PolicyError(f"{source}: YAML nests too deeply") from exc
    finally:
        loader.dispose()
    return data, lines


def _line(lines: Mapping[_Path, int], path: Sequence[str | int]) -> int:
    p = tuple(path)
    while p not in lines and p:
        p = p[:-1]
    return lines.get(p, 1)


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def _unknown_keys(error: ValidationError) -> list[tuple[str, str | None]]:
    """``(key, closest allowed key or None)`` for each key an ``additionalProperties`` error
    rejects (keys that are not strings are reported while walking the YAML)."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    allowed = sorted(schema.get("properties", {}))
    assert isinstance(error.instance, dict)
    out = []
    for key in error.instance:
        if isinstance(key, str) and key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            out.append((key, close[0] if close else None))
    return out


def _schema_mistakes(data: Any, lines: Mapping[_Path, int], mistakes: _Mistakes) -> set[_Path]:
    """Add every schema violation to ``mistakes``; return the paths of those that make a value
    unusable (all but unknown keys).

    An unknown key is reported with the closest allowed key, and a required key that it is
    probably a misspelling of is then not reported as missing (``rulez`` -> ``rules``).
    """
    errors = list(_validator().iter_errors(data))
    suggested: set[tuple[_Path, str]] = set()
    for error in errors:
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            path = tuple(error.absolute_path)
            suggested.update((path, close) for _, close in _unknown_keys(error) if close)
    found: list[tuple[int, str]] = []
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            allowed = sorted(schema.get("properties", {}))
            what = "rule" if path == ("rules",) else "key"
            in_where = "" if path in ((), ("rules",)) else f" in {_dotted(path)}"
            for key, close in _unknown_keys(error):
                hint = (
                    f" (did you mean {close!r}?)"
                    if close
                    else f" (expected one of: {', '.join(allowed)})"
                )
                found.append(
                    (_line(lines, [*path, key]), f"unknown {what} {key!r}{in_where}{hint}")
                )
        elif error.validator == "required" and isinstance(error.instance, dict):
            assert isinstance(error.validator_value, list)
            for name in error.validator_value:
                if name not in error.instance and (path, name) not in suggested:
                    where = _dotted(path)
                    found.append((_line(lines, path), f"{where}: {name!r} is a required property"))
        else:
            found.append((_line(lines, path), _detail(error, path)))
    for line, message in found:
        if line not in mistakes.explained:
            mistakes.add(line, message)
    # An unknown key leaves the known ones valid: only other violations stop a rule's checks.
    return {tuple(e.absolute_path) for e in errors if e.validator != "additionalProperties"}


def _detail(error: ValidationError, path: _Path) -> str:
    """``where: what is wrong`` for a schema violation other than an unknown or missing key."""
    instance = error.instance
    shown = repr(instance) if not isinstance(instance, (dict, list)) else type(instance).__name__
    if error.validator == "pattern" and path and path[-1] == "max-age":
        detail = f"{shown} is not a duration like 90d, 12h or 2w"
    elif error.validator == "pattern" and "platform" in str(error.schema_path):
        detail = f"{shown} is not a platform os/arch[/variant]"
    elif isinstance(instance, bool) and error.validator in ("enum", "const", "type"):
        detail = (
            f"{error.message[:200]} (YAML 1.1 reads yes/no/on/off as booleans; quote the value)"
        )
    else:
        detail = error.message[:300]
    return f"{_dotted(path)}: {detail}"


def _duration(text: str) -> timedelta:
    return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])


def _sbom_options(opts: Mapping[str, Any], lines: Mapping[_Path, int], m: _Mistakes) -> SbomOptions:
    """``rules.sbom``; patterns and license lists are parsed here, so mistakes name the line."""
    patterns = []
    for i, text in enumerate(opts.get("deny-packages", ())):
        try:
            patterns.append(parse_purl_pattern(text))
        except SbomError as exc:
            m.add(_line(lines, ["rules", "sbom", "deny-packages", i]), exc.diagnostics())
    lists: dict[str, list[str]] = {}
    for key in ("allow-licenses", "deny-licenses"):
        lists[key] = []
        for i, text in enumerate(opts.get(key, ())):
            try:
                LicenseRules.from_lists(None, [text])
                lists[key].append(text)
            except SbomError as exc:
                m.add(
                    _line(lines, ["rules", "sbom", key, i]),
                    f"rules.sbom.{key}: {exc.diagnostics()}",
                )
    return SbomOptions(
        required=opts.get("required", True),
        formats=frozenset(SbomFormat(f) for f in opts.get("formats", list(SbomFormat))),
        deny_packages=tuple(patterns),
        licenses=LicenseRules.from_lists(lists["allow-licenses"] or None, lists["deny-licenses"]),
    )


def _platforms_options(
    opts: Mapping[str, Any], lines: Mapping[_Path, int], m: _Mistakes
) -> PlatformsOptions:
    keys: list[str] = []
    for i, text in enumerate(opts["required"]):
        key = Platform.parse(text).key
        if key in keys:
            m.add(
                _line(lines, ["rules", "platforms", "required", i]),
                f"platform {text!r} is listed twice",
            )
        else:
            keys.append(key)
    return PlatformsOptions(tuple(keys))


def _rule_options(
    name: str,
    opts: Mapping[str, Any],
    lines: Mapping[_Path, int],
    m: _Mistakes,
    resolver: KeyResolver,
) -> RuleOptions | None:
    """The options of rule ``name`` (schema-valid ``opts``); mistakes are added to ``m``."""
    if name == "provenance":
        age = opts.get("max-age")
        return ProvenanceOptions(
            required=opts.get("required", True),
            mode=opts.get("mode"),
            max_age=_duration(age) if age else None,
        )
    if name == "platforms":
        return _platforms_options(opts, lines, m)
    if name == "frontend":
        return FrontendOptions(tuple(opts["allow"]), bool(opts.get("pinned", False)))
    if name == "build-args":
        return BuildArgsOptions(opts.get("secrets", "deny"), frozenset(opts.get("allow-names", ())))
    if name == "base-images":
        return BaseImagesOptions(
            tuple(opts["allow"]), tuple(opts.get("sbom-generators", DEFAULT_SBOM_GENERATORS))
        )
    if name == "builder":
        return BuilderOptions(tuple(opts["allow"]))
    if name == "sbom":
        return _sbom_options(opts, lines, m)
    if name == "signatures":
        return _signatures_options(opts, lines, m, resolver)
    if name == "vsa":
        return _vsa_options(opts, lines, m, resolver)
    return None


def _build(
    data: Mapping[str, Any],
    lines: Mapping[_Path, int],
    m: _Mistakes,
    invalid: set[_Path],
    resolver: KeyResolver,
) -> Policy | None:
    """The policy, or ``None`` when there are mistakes (all of them added to ``m``).

    ``invalid``: the paths of schema violations. The rules without one are still checked, so
    one run finds the mistakes in every rule.
    """
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, Mapping):
        return None  # reported by the schema
    rules: dict[str, RuleOptions] = {}
    for name, raw in raw_rules.items():
        if not any(p[:2] == ("rules", name) for p in invalid):
            options = _rule_options(name, raw or {}, lines, m, resolver)
            if options is not None:
                rules[name] = options
    if invalid or m.found:
        return None
    min_trust: dict[str, TrustLevel] = {}
    for name, raw in raw_rules.items():
        if isinstance(raw, Mapping) and "min-trust" in raw:
            level = TrustLevel(raw["min-trust"])
            problem = min_trust_problem(name, level, rules)
            if problem is not None:
                m.add(
                    _line(lines, ["rules", name, "min-trust"]), f"rules.{name}.min-trust: {problem}"
                )
            min_trust[name] = level
    exemptions = _exemptions(data.get("exemptions", ()), lines, m)
    if m.found:
        return None
    return Policy(
        name=data.get("name") or Path(m.source).stem,
        rules=rules,
        on_incomplete=OnIncomplete(data.get("on-incomplete", "fail")),
        source=m.source,
        min_trust=min_trust,
        exemptions=exemptions,
    )


def _exemptions(
    raw: Sequence[Mapping[str, Any]], lines: Mapping[_Path, int], m: _Mistakes
) -> tuple[Exemption, ...]:
    """``exemptions`` (schema-valid); each mistake is added to ``m`` with its line."""
    out = []
    for i, entry in enumerate(raw):
        line = _line(lines, ["exemptions", i])
        if "namespace" not in entry and "image" not in entry:
            m.add(line, f"exemptions[{i}]: an exemption needs a namespace or an image (or both)")
            continue
        try:
            expires = parse_expiry(entry["expires"])
        except ValueError:
            m.add(
                _line(lines, ["exemptions", i, "expires"]),
                f"exemptions[{i}].expires: {entry['expires']!r} is not a date YYYY-MM-DD "
                "or an RFC 3339 time with an offset",
            )
            continue
        out.append(
            Exemption(expires, entry["reason"], entry.get("namespace"), entry.get("image"), line)
        )
    return tuple(out)


def _expiry_text(value: object) -> object:
    """A YAML timestamp (``expires: 2027-01-31`` unquoted) as the text it was written as."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


_NO_MIN_TRUST: Final = {
    "platforms": "the platforms rule reads only the image index, not attestations, so min-trust "
    "does not apply to it (pin the reference by digest to make the index itself the trust root)",
    "signatures": "the signatures rule only ever accepts attestations signed by a trusted key or "
    "identity; set min-trust on the rules that read them (provenance, sbom, ...)",
}


def _reject_min_trust(rules: Mapping[str, Any], lines: Mapping[_Path, int], m: _Mistakes) -> None:
    """``min-trust`` on a rule that reads no attestation: a clear mistake, not "unknown key"."""
    for name, raw in rules.items():
        if isinstance(raw, Mapping) and "min-trust" in raw and name not in EVIDENCE_KINDS:
            why = _NO_MIN_TRUST.get(name)
            if why is not None:
                line = _line(lines, ["rules", name, "min-trust"])
                m.add(line, f"rules.{name}.min-trust: {why}", explains_line=True)


def _resolved(
    name: str, what: str, limit: int, line: int, resolver: KeyResolver, m: _Mistakes
) -> bytes | None:
    """The bytes ``resolver`` gives for ``name``, or ``None`` with the mistake added to ``m``."""
    try:
        data = resolver.resolve(name)
    except KeyResolutionError as exc:
        m.add(line, f"{exc.location}: cannot read the {what}: {exc.reason}")
        return None
    if len(data) > limit:
        m.add(line, f"{name}: {what} is larger than {limit} bytes")
        return None
    return data


def _keys(
    rule: str,
    opts: Mapping[str, Any],
    lines: Mapping[_Path, int],
    m: _Mistakes,
    resolver: KeyResolver,
) -> list[PublicKey]:
    """``rules.<rule>.keys``, each asked of ``resolver`` once and parsed now."""
    from provcheck.attestation.keys import MAX_KEY_FILE_BYTES, parse_public_key
    from provcheck.errors import UsageError

    keys = []
    for i, text in enumerate(opts.get("keys", ())):
        line = _line(lines, ["rules", rule, "keys", i])
        data = _resolved(text, "key file", MAX_KEY_FILE_BYTES, line, resolver, m)
        if data is None:
            continue
        try:
            keys.append(parse_public_key(data, text))
        except UsageError as exc:
            m.add(line, exc.diagnostics())
    return keys


def _vsa_options(
    opts: Mapping[str, Any], lines: Mapping[_Path, int], m: _Mistakes, resolver: KeyResolver
) -> RuleOptions:
    """``rules.vsa``: the keys (relative to the policy file, like the signatures rule's)."""
    from provcheck.policy.model import VsaOptions

    digest = opts.get("policy-digest")
    age = opts.get("max-age")
    return VsaOptions(
        keys=tuple(_keys("vsa", opts, lines, m, resolver)),
        policy_digest=digest.split(":", 1)[1] if digest else None,
        max_age=_duration(age) if age else None,
    )


def _signatures_options(
    opts: Mapping[str, Any], lines: Mapping[_Path, int], m: _Mistakes, resolver: KeyResolver
) -> RuleOptions:
    """``rules.signatures``: the keys and the trusted root, each asked of ``resolver`` once and
    parsed now (a policy is evaluated without reading a file)."""
    from provcheck.attestation.signatures import Identity
    from provcheck.errors import UsageError
    from provcheck.policy.model import SignaturesOptions

    keys = _keys("signatures", opts, lines, m, resolver)
    identities = []
    for i, raw in enumerate(opts.get("identities", ())):
        try:
            identities.append(Identity(raw["issuer"], raw["subject-regexp"]))
        except UsageError as exc:
            m.add(_line(lines, ["rules", "signatures", "identities", i]), exc.diagnostics())
    root = None
    if opts.get("trusted-root"):
        from provcheck.attestation.tlog import MAX_TRUSTED_ROOT_BYTES, TrustedRoot

        name = opts["trusted-root"]
        line = _line(lines, ["rules", "signatures", "trusted-root"])
        data = _resolved(name, "trusted root", MAX_TRUSTED_ROOT_BYTES, line, resolver, m)
        if data is not None:
            try:
                root = TrustedRoot.from_bytes(data, name)
            except UsageError as exc:
                m.add(line, exc.diagnostics())
    return SignaturesOptions(
        required=opts.get("required", True),
        keys=tuple(keys),
        identities=tuple(identities),
        threshold=opts.get("threshold", 1),
        trusted_root=root,
        tlog_required=opts.get("tlog") == "required",
        attestations=tuple(opts.get("attestations", ("provenance",))),
    )


def parse_policy(
    text: str | bytes, source_name: str = "<policy>", *, resolver: KeyResolver | None = None
) -> Policy:
    """Parse and validate a policy document; reads no file.

    The key files and trusted root it names are asked of ``resolver`` (once per name) and parsed
    here; without one, a policy that names any is a mistake. Raises :class:`PolicyError` naming
    ``source_name``, the line and the problem, and :class:`PolicyMistakesError` (a
    ``PolicyError``) with every mistake found, each on its line: invalid YAML, duplicate keys,
    aliases, non-string keys, schema violations, unknown rules and keys (with the closest valid
    name), bad patterns, keys, trusted roots and licences.
    """
    source = source_name
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source}: policy file is larger than {MAX_POLICY_BYTES} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"{source}: the policy file is not UTF-8") from exc
    mistakes = _Mistakes(source)
    data, lines = _load_yaml(text, mistakes)
    if not isinstance(data, dict):
        mistakes.raise_any()
        raise PolicyError(f"{source}:1: a policy must be a mapping, not {type(data).__name__}")
    rules = data.get("rules")
    if isinstance(rules, dict):
        for name, value in rules.items():  # `frontend:` with nothing under it means defaults
            if value is None and name in ("provenance", "build-args", "sbom", "signatures"):
                rules[name] = {}
        _reject_min_trust(rules, lines, mistakes)
    exemptions = data.get("exemptions")
    if isinstance(exemptions, list):
        for entry in exemptions:
            if isinstance(entry, dict) and "expires" in entry:
                entry["expires"] = _expiry_text(entry["expires"])
    invalid = _schema_mistakes(data, lines, mistakes)
    policy = _build(data, lines, mistakes, invalid, resolver or NoResolver())
    mistakes.raise_any()
    assert policy is not None  # no mistake, so the policy was built
    return policy


def load_policy(path: Path) -> Policy:
    """Read and parse a policy file, and the key files and trusted root it names (relative to
    its directory, regular files only). Raises :class:`PolicyError` (also when unreadable)."""
    return read_policy(path)[1]


def read_policy(path: Path) -> tuple[bytes, Policy]:
    """:func:`load_policy`, also returning the exact bytes parsed (read once): a cached
    verdict's key, an evidence pack and a VSA name the policy by them."""
    raw = read_capped(path, MAX_POLICY_BYTES, "policy file", PolicyError)
    return raw, parse_policy(raw, str(path), resolver=FileResolver(path.parent))


def lint_policy(path: Path) -> list[str]:
    """Every mistake of a policy file, each a ``file:line: message`` line, sorted by line;
    empty when it is valid."""
    try:
        load_policy(path)
    except PolicyMistakesError as exc:
        return list(exc.messages)
    except PolicyError as exc:
        return [exc.diagnostics()]
    return []
