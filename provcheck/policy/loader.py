"""Load and validate policy files: YAML (no duplicate keys, no aliases) + JSON Schema."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml

from provcheck.discovery.model import TrustLevel
from provcheck.errors import PolicyError, SbomError
from provcheck.files import read_capped
from provcheck.oci.platform import Platform
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
from provcheck.report.model import OnIncomplete
from provcheck.sbom.licenses import LicenseRules
from provcheck.sbom.model import SbomFormat
from provcheck.sbom.versions import parse_purl_pattern

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

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


def _walk(node: yaml.Node, path: _Path, lines: dict[_Path, int], seen: set[int], src: str) -> None:
    """Record the line of every key/item, and reject aliases, odd keys and duplicates."""
    if id(node) in seen:
        raise PolicyError(
            f"{src}:{node.start_mark.line + 1}: YAML anchors and aliases are not allowed"
        )
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise PolicyError(f"{src}:{line}: YAML merge keys ('<<') are not allowed")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                text = getattr(key_node, "value", "?")
                raise PolicyError(
                    f"{src}:{line}: key {str(text)[:60]!r} is not read as a string "
                    f"(YAML 1.1 turns on/off/yes/no into booleans); quote it"
                )
            key = key_node.value
            if key in keys:
                raise PolicyError(
                    f"{src}:{line}: duplicate key {key!r} (first defined on line {keys[key]})"
                )
            keys[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, seen, src)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _walk(item, (*path, i), lines, seen, src)


def _load_yaml(text: str, source: str) -> tuple[Any, dict[_Path, int]]:
    loader = _BaseLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PolicyError(f"{source}: the policy file is empty")
        lines: dict[_Path, int] = {(): node.start_mark.line + 1}
        _walk(node, (), lines, set(), source)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyError(f"{where}: invalid YAML: {exc.problem or exc.context}") from exc
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


def _message(error: ValidationError, lines: Mapping[_Path, int], source: str) -> str:
    path = list(error.absolute_path)
    where = _dotted(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in allowed)
        name = extra[0] if extra else "?"
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = (
            f" (did you mean {close[0]!r}?)"
            if close
            else f" (expected one of: {', '.join(allowed)})"
        )
        what = "rule" if path == ["rules"] else ("key" if path else "top-level key")
        in_where = "" if path in ([], ["rules"]) else f" in {where}"
        line = _line(lines, [*path, name])
        return f"{source}:{line}: unknown {what} {name!r}{in_where}{hint}"
    line = _line(lines, path)
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
    return f"{source}:{line}: {where}: {detail}"


def _duration(text: str) -> timedelta:
    return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])


def _sbom_options(opts: Mapping[str, Any], source: str, lines: Mapping[_Path, int]) -> SbomOptions:
    """``rules.sbom``; patterns and license lists are parsed here, so errors name the line."""
    patterns = []
    for i, text in enumerate(opts.get("deny-packages", ())):
        try:
            patterns.append(parse_purl_pattern(text))
        except SbomError as exc:
            line = _line(lines, ["rules", "sbom", "deny-packages", i])
            raise PolicyError(f"{source}:{line}: {exc.diagnostics()}") from exc
    lists: dict[str, list[str]] = {}
    for key in ("allow-licenses", "deny-licenses"):
        lists[key] = list(opts.get(key, ()))
        for i, text in enumerate(lists[key]):
            try:
                LicenseRules.from_lists(None, [text])
            except SbomError as exc:
                line = _line(lines, ["rules", "sbom", key, i])
                raise PolicyError(
                    f"{source}:{line}: rules.sbom.{key}: {exc.diagnostics()}"
                ) from exc
    return SbomOptions(
        required=opts.get("required", True),
        formats=frozenset(SbomFormat(f) for f in opts.get("formats", list(SbomFormat))),
        deny_packages=tuple(patterns),
        licenses=LicenseRules.from_lists(lists["allow-licenses"] or None, lists["deny-licenses"]),
    )


def _build(data: Mapping[str, Any], source: str, lines: Mapping[_Path, int]) -> Policy:
    rules: dict[str, RuleOptions] = {}
    for name, raw in data["rules"].items():
        opts: Mapping[str, Any] = raw or {}
        if name == "provenance":
            age = opts.get("max-age")
            rules[name] = ProvenanceOptions(
                required=opts.get("required", True),
                mode=opts.get("mode"),
                max_age=_duration(age) if age else None,
            )
        elif name == "platforms":
            keys = []
            for i, text in enumerate(opts["required"]):
                key = Platform.parse(text).key
                if key in keys:
                    line = _line(lines, ["rules", "platforms", "required", i])
                    raise PolicyError(f"{source}:{line}: platform {text!r} is listed twice")
                keys.append(key)
            rules[name] = PlatformsOptions(tuple(keys))
        elif name == "frontend":
            rules[name] = FrontendOptions(tuple(opts["allow"]), bool(opts.get("pinned", False)))
        elif name == "build-args":
            rules[name] = BuildArgsOptions(
                opts.get("secrets", "deny"), frozenset(opts.get("allow-names", ()))
            )
        elif name == "base-images":
            rules[name] = BaseImagesOptions(
                tuple(opts["allow"]),
                tuple(opts.get("sbom-generators", DEFAULT_SBOM_GENERATORS)),
            )
        elif name == "builder":
            rules[name] = BuilderOptions(tuple(opts["allow"]))
        elif name == "sbom":
            rules[name] = _sbom_options(opts, source, lines)
        elif name == "signatures":
            rules[name] = _signatures_options(opts, source, lines)
    min_trust: dict[str, TrustLevel] = {}
    for name, raw in data["rules"].items():
        if isinstance(raw, Mapping) and "min-trust" in raw:
            level = TrustLevel(raw["min-trust"])
            problem = min_trust_problem(name, level, rules)
            if problem is not None:
                line = _line(lines, ["rules", name, "min-trust"])
                raise PolicyError(f"{source}:{line}: rules.{name}.min-trust: {problem}")
            min_trust[name] = level
    return Policy(
        name=data.get("name") or Path(source).stem,
        rules=rules,
        on_incomplete=OnIncomplete(data.get("on-incomplete", "fail")),
        source=source,
        min_trust=min_trust,
    )


_NO_MIN_TRUST: Final = {
    "platforms": "the platforms rule reads only the image index, not attestations, so min-trust "
    "does not apply to it (pin the reference by digest to make the index itself the trust root)",
    "signatures": "the signatures rule only ever accepts attestations signed by a trusted key or "
    "identity; set min-trust on the rules that read them (provenance, sbom, ...)",
}


def _reject_min_trust(rules: Mapping[str, Any], source: str, lines: Mapping[_Path, int]) -> None:
    """``min-trust`` on a rule that reads no attestation: a clear error, not "unknown key"."""
    for name, raw in rules.items():
        if isinstance(raw, Mapping) and "min-trust" in raw and name not in EVIDENCE_KINDS:
            why = _NO_MIN_TRUST.get(name)
            if why is not None:
                line = _line(lines, ["rules", name, "min-trust"])
                raise PolicyError(f"{source}:{line}: rules.{name}.min-trust: {why}")


def _signatures_options(
    opts: Mapping[str, Any], source: str, lines: Mapping[_Path, int]
) -> RuleOptions:
    """``rules.signatures``: load the keys now, paths relative to the policy file."""
    from provcheck.attestation.keys import load_public_key
    from provcheck.attestation.signatures import Identity
    from provcheck.errors import UsageError
    from provcheck.policy.model import SignaturesOptions

    base = Path(source).parent if not source.startswith("<") else Path.cwd()
    keys = []
    for i, text in enumerate(opts.get("keys", ())):
        try:
            keys.append(load_public_key(base / text))
        except UsageError as exc:
            line = _line(lines, ["rules", "signatures", "keys", i])
            raise PolicyError(f"{source}:{line}: {exc.diagnostics()}") from exc
    identities = []
    for i, raw in enumerate(opts.get("identities", ())):
        try:
            identities.append(Identity(raw["issuer"], raw["subject-regexp"]))
        except UsageError as exc:
            line = _line(lines, ["rules", "signatures", "identities", i])
            raise PolicyError(f"{source}:{line}: {exc.diagnostics()}") from exc
    root = opts.get("trusted-root")
    return SignaturesOptions(
        required=opts.get("required", True),
        keys=tuple(keys),
        identities=tuple(identities),
        threshold=opts.get("threshold", 1),
        trusted_root=base / root if root else None,
        tlog_required=opts.get("tlog") == "required",
        attestations=tuple(opts.get("attestations", ("provenance",))),
    )


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate a policy document.

    Raises :class:`PolicyError` naming ``source``, the line and the problem: invalid YAML,
    duplicate keys, aliases, non-string keys, schema violations, unknown rules (with the
    closest valid name).
    """
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source}: policy file is larger than {MAX_POLICY_BYTES} bytes")
    data, lines = _load_yaml(text, source)
    if not isinstance(data, dict):
        raise PolicyError(f"{source}:1: a policy must be a mapping, not {type(data).__name__}")
    rules = data.get("rules")
    if isinstance(rules, dict):
        for name, value in rules.items():  # `frontend:` with nothing under it means defaults
            if value is None and name in ("provenance", "build-args", "sbom", "signatures"):
                rules[name] = {}
        _reject_min_trust(rules, source, lines)
    errors = sorted(
        _validator().iter_errors(data),
        key=lambda e: (_line(lines, list(e.absolute_path)), e.message),
    )
    if errors:
        raise PolicyError(_message(errors[0], lines, source))
    return _build(data, source, lines)


def load_policy(path: Path) -> Policy:
    """Read and parse a policy file. Raises :class:`PolicyError` (also when unreadable)."""
    raw = read_capped(path, MAX_POLICY_BYTES, "policy file", PolicyError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: the policy file is not UTF-8") from exc
    return parse_policy(text, str(path))


def lint_policy(path: Path) -> list[str]:
    """Problems of a policy file as ``file:line: message`` lines; empty when it is valid."""
    try:
        load_policy(path)
    except PolicyError as exc:
        return [exc.diagnostics()]
    return []
