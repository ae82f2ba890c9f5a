"""SLSA provenance v0.2 and v1 as one typed, immutable view (formats.md §6.3).

:func:`parse_provenance` reads each field from the path that the version's table in
:mod:`~provcheck.predicates.slsa_layout` names, and hides the differences. Unknown
fields are kept in :attr:`Provenance.raw`, never rejected; provenance that BuildKit did not write
(e.g. a GitHub Actions build type) parses into the same model with whatever it has. Every value
that a policy may cite carries an RFC 6901 pointer into the statement (``/predicate/…``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from provcheck.attestation.statement import Statement
from provcheck.errors import AttestationError
from provcheck.oci.reference import ImageReference
from provcheck.predicates import SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1
from provcheck.predicates.slsa_layout import (
    LAYOUTS,
    MATERIAL_DIGEST,
    MATERIAL_URI,
    NESTED_REQUEST,
    REQUEST_ARGS,
    REQUEST_INPUTS,
    REQUEST_ROOT,
    STEP_EXEC_ENV,
    STEP_SOURCE_IDENTIFIER,
    JsonPath,
    Layout,
    SlsaField,
)

BUILTIN_DOCKERFILE_FRONTEND: Final = "dockerfile.v0"
GATEWAY_FRONTEND: Final = "gateway.v0"
BUILD_ARG_PREFIX: Final = "build-arg:"
LABEL_PREFIX: Final = "label:"
CONTEXT_PREFIX: Final = "context:"
DOCKER_IMAGE_SCHEME: Final = "docker-image://"
OCI_LAYOUT_SCHEME: Final = "oci-layout://"

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_MAX_DEPTH: Final = 8


def pointer_join(base: str, *tokens: str | int) -> str:
    """Append reference tokens to an RFC 6901 pointer (escaping ``~`` and ``/``)."""
    out = base
    for token in tokens:
        out += "/" + str(token).replace("~", "~0").replace("/", "~1")
    return out


# -- defensive readers: absent -> default, wrong type -> AttestationError --------------------


def _where(pointer: str) -> str:
    return pointer or "/"


def _obj(parent: Mapping[str, Any], key: str, pointer: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, dict):
        raise AttestationError(
            f"provenance field {_where(pointer)} must be an object, not {type(value).__name__}"
        )
    return value


def _list(parent: Mapping[str, Any], key: str, pointer: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AttestationError(
            f"provenance field {_where(pointer)} must be a list, not {type(value).__name__}"
        )
    return value


def _str(parent: Mapping[str, Any], key: str, pointer: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AttestationError(
            f"provenance field {_where(pointer)} must be a string, not {type(value).__name__}"
        )
    return value


def _bool(parent: Mapping[str, Any], key: str, pointer: str) -> bool | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise AttestationError(
            f"provenance field {_where(pointer)} must be a boolean, not {type(value).__name__}"
        )
    return value


def _time(parent: Mapping[str, Any], key: str, pointer: str) -> datetime | None:
    text = _str(parent, key, pointer)
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise AttestationError(
            f"provenance field {pointer} is not an RFC 3339 time: {text[:60]!r}"
        ) from exc
    if value.tzinfo is None:
        raise AttestationError(f"provenance field {pointer} has no time zone: {text[:60]!r}")
    return value


def _ids(items: list[Any], pointer: str, key: str) -> tuple[str, ...]:
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise AttestationError(f"provenance field {pointer}/{i} must be an object")
        value = _str(item, key, pointer_join(pointer, i, key))
        if value is not None:
            out.append(value)
    return tuple(out)


# -- model ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arg:
    """One frontend option (``build-arg:NAME``, ``label:KEY``, ``source``, …) and where it is."""

    key: str
    value: str
    pointer: str

    @property
    def build_arg_name(self) -> str | None:
        """``NAME`` for ``build-arg:NAME``, else ``None``."""
        return self.key[len(BUILD_ARG_PREFIX) :] if self.key.startswith(BUILD_ARG_PREFIX) else None


@dataclass(frozen=True, slots=True)
class EnvEntry:
    """One ``NAME=value`` of an LLB exec op's ``meta.env`` (max mode)."""

    name: str
    value: str
    pointer: str


@dataclass(frozen=True, slots=True)
class Material:
    """A material (v0.2) or resolved dependency (v1)."""

    uri: str
    digest: Mapping[str, str] = field(hash=False)
    pointer: str = ""

    @property
    def purl_type(self) -> str | None:
        """``docker``/``oci``/… for a package URL, else ``None``."""
        if not self.uri.startswith("pkg:"):
            return None
        rest = self.uri[4:].lstrip("/")
        kind, sep, _ = rest.partition("/")
        return kind.lower() if sep else None

    @property
    def image(self) -> ImageReference | None:
        """The image a ``pkg:docker``/``pkg:oci`` material names, normalised; else ``None``.

        ``pkg:docker/localhost%3A5000/docker/dockerfile@1.7`` →
        ``localhost:5000/docker/dockerfile:1.7``; the digest is *not* taken from the purl.
        """
        if self.purl_type not in ("docker", "oci"):
            return None
        from packageurl import PackageURL

        from provcheck.errors import InvalidReferenceError

        try:
            purl = PackageURL.from_string(self.uri)
        except ValueError:
            return None
        name = f"{purl.namespace}/{purl.name}" if purl.namespace else purl.name
        text = name if not purl.version else f"{name}:{purl.version}"
        try:
            return ImageReference.parse(text)
        except InvalidReferenceError:
            return None

    @property
    def local_layout(self) -> bool:
        """A ``pkg:oci`` image: loaded from a local OCI layout (a named context), not a registry."""
        return self.purl_type == "oci"

    @property
    def pinned_digest(self) -> str | None:
        """The purl's ``digest=`` qualifier (the image was asked for by digest), lower-cased."""
        if self.purl_type not in ("docker", "oci"):
            return None
        from packageurl import PackageURL

        try:
            qualifiers = PackageURL.from_string(self.uri).qualifiers
        except ValueError:
            return None
        return qualifiers.get("digest", "").lower() or None

    @property
    def sha256(self) -> str | None:
        """``sha256:<hex>`` when recorded."""
        value = self.digest.get("sha256")
        return f"sha256:{value.lower()}" if value else None


class ContextKind(StrEnum):
    """What a named context (``context:NAME`` = ``<kind>:<target>``) loads, as BuildKit reads it."""

    DOCKER_IMAGE = "docker-image"
    OCI_LAYOUT = "oci-layout"
    LOCAL = "local"
    GIT = "git"
    HTTP = "http"
    HTTPS = "https"
    INPUT = "input"


@dataclass(frozen=True, slots=True)
class NamedContext:
    """A ``context:NAME[::PLATFORM]`` request arg: BuildKit loads it wherever ``NAME`` is used
    (a ``FROM``, a stage, or the frontend image ``args.source``) instead of ``NAME`` itself."""

    name: str
    platform: str | None
    """``PLATFORM`` of ``context:NAME::PLATFORM`` (the context applies only there)."""
    kind: ContextKind | None
    """``None`` for a scheme BuildKit does not know (the build would have failed)."""
    target: str
    """The value after ``<kind>:`` without a leading ``//``."""
    arg: Arg

    @classmethod
    def from_arg(cls, arg: Arg) -> NamedContext | None:
        """The named context ``arg`` declares, or ``None`` when it is no ``context:`` arg."""
        if not arg.key.startswith(CONTEXT_PREFIX):
            return None
        name, sep, platform = arg.key[len(CONTEXT_PREFIX) :].partition("::")
        scheme, _, target = arg.value.partition(":")
        if scheme.startswith("git@"):  # BuildKit accepts SSH URLs without a scheme
            scheme, target = ContextKind.GIT, arg.value
        kind = next((k for k in ContextKind if k.value == scheme), None)
        target = target.removeprefix("//")
        return cls(name, platform if sep else None, kind, target, arg)


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where the build definition came from (``configSource``)."""

    uri: str | None = None
    digest: Mapping[str, str] = field(default_factory=dict, hash=False)
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """The version-independent view of a SLSA provenance predicate.

    Use :func:`parse_provenance`; :class:`ProvenanceV02` and :class:`ProvenanceV1` say which
    version was read. ``pointers`` maps every :class:`SlsaField` (``frontend``, ``source``,
    ``builder``, ``finished``, ``completeness``, ``build-config``, ``materials``, …) to its JSON
    pointer in this version, whether or not the statement holds a value there.
    """

    predicate_type: str
    build_type: str
    builder_id: str
    frontend: str | None
    args: tuple[Arg, ...]
    """Top-level request args (``build-arg:*``, ``label:*``, ``source``, ``cmdline``, …)."""
    nested_args: tuple[Arg, ...]
    """Args of ``root`` and ``inputs`` requests (they repeat build args in max mode)."""
    secrets: tuple[str, ...]
    ssh: tuple[str, ...]
    locals: tuple[str, ...]
    config_source: ConfigSource
    materials: tuple[Material, ...]
    invocation_id: str | None
    started_on: datetime | None
    finished_on: datetime | None
    args_complete: bool | None
    """``completeness.parameters`` / ``buildkit_completeness.request``; ``None`` if unrecorded."""
    materials_complete: bool | None
    max_mode: bool
    """``buildConfig`` is present (the robust max-mode proxy, formats.md §10)."""
    hermetic: bool
    reproducible: bool
    vcs_source: str | None
    vcs_revision: str | None
    dockerfile: str | None
    builder_platform: str | None
    llb_env: tuple[EnvEntry, ...]
    llb_image_sources: tuple[str, ...]
    """``docker-image://`` identifiers of the LLB source ops (max mode)."""
    llb_layout_sources: tuple[str, ...]
    """``oci-layout://`` identifiers of the LLB source ops (max mode): images from named
    contexts that point at a local OCI layout (their materials are ``pkg:oci``)."""
    pointers: Mapping[str, str] = field(hash=False, compare=False)
    raw: Mapping[str, Any] = field(hash=False, compare=False, repr=False)

    @property
    def version(self) -> str:
        """``v0.2`` or ``v1``."""
        return "v1" if self.predicate_type == SLSA_PROVENANCE_V1 else "v0.2"

    def arg(self, key: str) -> Arg | None:
        """The top-level arg ``key`` if recorded."""
        return next((a for a in self.args if a.key == key), None)

    @property
    def frontend_source(self) -> str | None:
        """``args.source``: the frontend image that ran (``# syntax`` or ``BUILDKIT_SYNTAX``)."""
        arg = self.arg("source")
        return arg.value if arg else None

    @property
    def named_contexts(self) -> tuple[NamedContext, ...]:
        """The top-level ``context:*`` args (``--build-context``; they survive min mode)."""
        found = (NamedContext.from_arg(a) for a in self.args)
        return tuple(c for c in found if c is not None)

    @property
    def build_args(self) -> dict[str, str]:
        """``NAME -> value`` of the top-level ``build-arg:*`` args."""
        return {a.build_arg_name: a.value for a in self.args if a.build_arg_name is not None}

    @property
    def labels(self) -> dict[str, str]:
        """``KEY -> value`` of the top-level ``label:*`` args."""
        return {
            a.key[len(LABEL_PREFIX) :]: a.value for a in self.args if a.key.startswith(LABEL_PREFIX)
        }

    def all_build_args(self) -> Iterator[Arg]:
        """Every ``build-arg:*`` recorded anywhere in the request (top level, root, inputs)."""
        for arg in (*self.args, *self.nested_args):
            if arg.build_arg_name is not None:
                yield arg


@dataclass(frozen=True, slots=True)
class ProvenanceV02(Provenance):
    """Provenance read from a ``https://slsa.dev/provenance/v0.2`` predicate."""


@dataclass(frozen=True, slots=True)
class ProvenanceV1(Provenance):
    """Provenance read from a ``https://slsa.dev/provenance/v1`` predicate."""


# -- reading a layout ---------------------------------------------------------------------------

_BASE: Final = "/predicate"


def _locate(
    parent: Mapping[str, Any], pointer: str, path: JsonPath
) -> tuple[Mapping[str, Any], str, str]:
    """The object holding ``path``'s last key (objects on the way read strictly), the key and
    its pointer: the arguments of the defensive readers."""
    for token in path[:-1]:
        pointer = pointer_join(pointer, token)
        parent = _obj(parent, token, pointer)
    return parent, path[-1], pointer_join(pointer, path[-1])


def _peek(doc: Mapping[str, Any], path: JsonPath) -> object:
    """The value at ``path``, or ``None``; never raises."""
    node: object = doc
    for token in path:
        node = node.get(token) if isinstance(node, dict) else None
    return node


@dataclass(frozen=True, slots=True)
class _Reader:
    """Typed values of one predicate, each read from the path its layout names."""

    pred: Mapping[str, Any]
    layout: Layout

    def at(self, f: SlsaField) -> tuple[Mapping[str, Any], str, str]:
        return _locate(self.pred, _BASE, self.layout.paths[f])

    def pointer(self, f: SlsaField) -> str:
        """The pointer of ``f``; of its other spelling when only that one holds a value."""
        path = self.layout.paths[f]
        other = self.layout.alternates.get(f)
        if other is not None and _peek(self.pred, path) is None and _peek(self.pred, other):
            path = other
        return pointer_join(_BASE, *path)

    def obj(self, f: SlsaField) -> Mapping[str, Any]:
        return _obj(*self.at(f))

    def items(self, f: SlsaField) -> list[Any]:
        return _list(*self.at(f))

    def string(self, f: SlsaField) -> str | None:
        value = _str(*self.at(f))
        other = self.layout.alternates.get(f)
        if other is not None and not value:
            return _str(*_locate(self.pred, _BASE, other))
        return value

    def boolean(self, f: SlsaField) -> bool | None:
        return _bool(*self.at(f))

    def time(self, f: SlsaField) -> datetime | None:
        return _time(*self.at(f))

    def present(self, f: SlsaField) -> bool:
        parent, key, _ = self.at(f)
        return parent.get(key) is not None

    def flag(self, f: SlsaField) -> bool:
        """``True`` only for JSON ``true`` (an unverified hint: anything else is false)."""
        parent, key, _ = self.at(f)
        return parent.get(key) is True

    def text(self, f: SlsaField) -> str | None:
        """A string, or ``None`` for anything else (an informational value)."""
        parent, key, _ = self.at(f)
        value = parent.get(key)
        return value if isinstance(value, str) else None

    def mapping(self, f: SlsaField) -> Mapping[str, Any]:
        """An object, or empty for anything else (an informational value)."""
        parent, key, _ = self.at(f)
        value = parent.get(key)
        return value if isinstance(value, dict) else _EMPTY


# -- shapes shared by both versions -------------------------------------------------------------


def _args(args: Mapping[str, Any], pointer: str) -> tuple[Arg, ...]:
    out: list[Arg] = []
    for key, value in sorted(args.items()):
        p = pointer_join(pointer, key)
        if isinstance(value, str):
            out.append(Arg(key, value, p))
        elif isinstance(value, (int, float, bool)):
            out.append(Arg(key, str(value), p))
        else:
            raise AttestationError(f"provenance field {p} must be a string")
    return tuple(out)


def _request_args(request: Mapping[str, Any], pointer: str, depth: int) -> list[Arg]:
    """The args of one nested request and of the requests nested in it."""
    args = _obj(*_locate(request, pointer, REQUEST_ARGS))
    return [
        *_args(args, _pointer(pointer, REQUEST_ARGS)),
        *_nested_args(request, pointer, depth + 1),
    ]


def _nested_args(request: Mapping[str, Any], pointer: str, depth: int = 0) -> list[Arg]:
    """Args of the ``root`` and ``inputs`` requests of ``request``, recursively."""
    if depth > _MAX_DEPTH:
        raise AttestationError(f"provenance field {pointer} nests requests too deeply")
    out: list[Arg] = []
    root_ptr = _pointer(pointer, REQUEST_ROOT)
    root = _obj(*_locate(request, pointer, REQUEST_ROOT))
    if root:
        inner = _obj(*_locate(root, root_ptr, NESTED_REQUEST))
        out.extend(_request_args(inner, _pointer(root_ptr, NESTED_REQUEST), depth))
    inputs_ptr = _pointer(pointer, REQUEST_INPUTS)
    for name, value in sorted(_obj(*_locate(request, pointer, REQUEST_INPUTS)).items()):
        p = pointer_join(inputs_ptr, name)
        if not isinstance(value, dict):
            raise AttestationError(f"provenance field {p} must be an object")
        inner = _obj(*_locate(value, p, NESTED_REQUEST))
        out.extend(_request_args(inner, _pointer(p, NESTED_REQUEST), depth))
    return out


def _pointer(base: str, path: JsonPath) -> str:
    return pointer_join(base, *path)


def _materials(items: list[Any], pointer: str) -> tuple[Material, ...]:
    out: list[Material] = []
    for i, item in enumerate(items):
        p = pointer_join(pointer, i)
        if not isinstance(item, dict):
            raise AttestationError(f"provenance field {p} must be an object")
        uri = _str(*_locate(item, p, MATERIAL_URI)) or ""
        digest = _obj(*_locate(item, p, MATERIAL_DIGEST))
        if not all(isinstance(v, str) for v in digest.values()):
            raise AttestationError(
                f"provenance field {_pointer(p, MATERIAL_DIGEST)} must map to strings"
            )
        out.append(Material(uri, MappingProxyType(dict(digest)), p))
    return tuple(out)


def _llb(steps: list[Any], pointer: str) -> tuple[list[EnvEntry], list[str], list[str]]:
    """The env of exec ops and the image / layout identifiers of source ops."""
    env: list[EnvEntry] = []
    sources: list[str] = []
    layouts: list[str] = []
    for i, step in enumerate(steps):
        sp = pointer_join(pointer, i)
        if not isinstance(step, dict):
            raise AttestationError(f"provenance field {sp} must be an object")
        ident = _str(*_locate(step, sp, STEP_SOURCE_IDENTIFIER))
        if ident and ident.startswith(DOCKER_IMAGE_SCHEME):
            sources.append(ident[len(DOCKER_IMAGE_SCHEME) :])
        elif ident and ident.startswith(OCI_LAYOUT_SCHEME):
            layouts.append(ident[len(OCI_LAYOUT_SCHEME) :])
        env_ptr = _pointer(sp, STEP_EXEC_ENV)
        for j, entry in enumerate(_list(*_locate(step, sp, STEP_EXEC_ENV))):
            ep = pointer_join(env_ptr, j)
            if not isinstance(entry, str):
                raise AttestationError(f"provenance field {ep} must be a string")
            name, _, value = entry.partition("=")
            env.append(EnvEntry(name, value, ep))
    return env, sources, layouts


def _dockerfile(source: Mapping[str, Any]) -> str | None:
    infos = source.get("infos")
    if not isinstance(infos, list):
        return None
    for info in infos:
        if not isinstance(info, dict) or not isinstance(info.get("data"), str):
            continue
        if info.get("language", "Dockerfile") != "Dockerfile":
            continue
        try:
            return base64.b64decode(info["data"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _vcs(vcs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    source, revision = vcs.get("source"), vcs.get("revision")
    return (
        source if isinstance(source, str) else None,
        revision if isinstance(revision, str) else None,
    )


# -- one parser for both versions ---------------------------------------------------------------


_MODELS: Final[Mapping[str, type[Provenance]]] = MappingProxyType(
    {SLSA_PROVENANCE_V02: ProvenanceV02, SLSA_PROVENANCE_V1: ProvenanceV1}
)


def _parse(pred: Mapping[str, Any], predicate_type: str, layout: Layout) -> Provenance:
    r = _Reader(pred, layout)
    cls = _MODELS[predicate_type]
    llb_env, llb_sources, llb_layouts = _llb(
        r.items(SlsaField.LLB_DEFINITION), r.pointer(SlsaField.LLB_DEFINITION)
    )
    vcs_source, vcs_revision = _vcs(r.mapping(SlsaField.VCS))
    return cls(
        predicate_type=predicate_type,
        build_type=r.string(SlsaField.BUILD_TYPE) or "",
        builder_id=r.string(SlsaField.BUILDER) or "",
        frontend=r.string(SlsaField.FRONTEND),
        args=_args(r.obj(SlsaField.ARGS), r.pointer(SlsaField.ARGS)),
        nested_args=tuple(_nested_args(r.obj(SlsaField.REQUEST), r.pointer(SlsaField.REQUEST))),
        secrets=_ids(r.items(SlsaField.SECRETS), r.pointer(SlsaField.SECRETS), "id"),
        ssh=_ids(r.items(SlsaField.SSH), r.pointer(SlsaField.SSH), "id"),
        locals=_ids(r.items(SlsaField.LOCALS), r.pointer(SlsaField.LOCALS), "name"),
        config_source=ConfigSource(
            uri=r.string(SlsaField.CONFIG_URI),
            digest=dict(r.obj(SlsaField.CONFIG_DIGEST)),
            path=r.string(SlsaField.CONFIG_PATH),
        ),
        materials=_materials(r.items(SlsaField.MATERIALS), r.pointer(SlsaField.MATERIALS)),
        invocation_id=r.string(SlsaField.INVOCATION_ID),
        started_on=r.time(SlsaField.STARTED),
        finished_on=r.time(SlsaField.FINISHED),
        args_complete=r.boolean(SlsaField.COMPLETENESS),
        materials_complete=r.boolean(SlsaField.MATERIALS_COMPLETENESS),
        max_mode=r.present(SlsaField.BUILD_CONFIG),
        hermetic=r.flag(SlsaField.HERMETIC),
        reproducible=r.flag(SlsaField.REPRODUCIBLE),
        vcs_source=vcs_source,
        vcs_revision=vcs_revision,
        dockerfile=_dockerfile(r.obj(SlsaField.DOCKERFILE)),
        builder_platform=r.text(SlsaField.BUILDER_PLATFORM),
        llb_env=tuple(llb_env),
        llb_image_sources=tuple(llb_sources),
        llb_layout_sources=tuple(llb_layouts),
        pointers=MappingProxyType({f: r.pointer(f) for f in SlsaField}),
        raw=pred,
    )


def parse_provenance_predicate(predicate: object, predicate_type: str) -> Provenance:
    """Parse a SLSA v0.2 or v1 predicate (the raw JSON object).

    Raises :class:`AttestationError` for another predicate type, a predicate that is not an
    object, or a known field of the wrong JSON type. Never raises anything else.
    """
    if not isinstance(predicate, Mapping):
        raise AttestationError("provenance predicate must be a JSON object")
    layout = LAYOUTS.get(predicate_type)
    if layout is None:
        raise AttestationError(f"not a SLSA provenance predicate type: {predicate_type[:100]!r}")
    try:
        return _parse(predicate, predicate_type, layout)
    except RecursionError as exc:  # pragma: no cover - json.loads limits depth first
        raise AttestationError("provenance predicate nests too deeply") from exc


def parse_provenance(statement: Statement) -> Provenance:
    """Parse the provenance predicate of ``statement``. Raises :class:`AttestationError`."""
    return parse_provenance_predicate(statement.predicate, statement.predicate_type)
