"""SLSA provenance v0.2 and v1 as one typed, immutable view (formats.md §6.3).

:func:`parse_provenance` reads the paths each version uses and hides the differences. Unknown
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

BUILTIN_DOCKERFILE_FRONTEND: Final = "dockerfile.v0"
GATEWAY_FRONTEND: Final = "gateway.v0"
BUILD_ARG_PREFIX: Final = "build-arg:"
LABEL_PREFIX: Final = "label:"
CONTEXT_PREFIX: Final = "context:"
DOCKER_IMAGE_SCHEME: Final = "docker-image://"
OCI_LAYOUT_SCHEME: Final = "oci-layout://"
BUILDKIT_METADATA_V02: Final = "https://mobyproject.org/buildkit@v1#metadata"
BUILDKIT_HERMETIC_V02: Final = "https://mobyproject.org/buildkit@v1#hermetic"

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
    version was read. ``pointers`` maps a concept (``frontend``, ``source``, ``builder``,
    ``finished``, ``completeness``, ``build-config``, ``materials``) to its JSON pointer.
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


# -- shared pieces -------------------------------------------------------------------------------


def _args(request: Mapping[str, Any], pointer: str) -> tuple[Arg, ...]:
    args = _obj(request, "args", pointer_join(pointer, "args"))
    out: list[Arg] = []
    for key, value in sorted(args.items()):
        p = pointer_join(pointer, "args", key)
        if isinstance(value, str):
            out.append(Arg(key, value, p))
        elif isinstance(value, (int, float, bool)):
            out.append(Arg(key, str(value), p))
        else:
            raise AttestationError(f"provenance field {p} must be a string")
    return tuple(out)


def _nested_args(request: Mapping[str, Any], pointer: str, depth: int = 0) -> list[Arg]:
    """Args of ``root`` (``{configSource, request}``) and ``inputs`` (``{name: {request}}``)."""
    if depth > _MAX_DEPTH:
        raise AttestationError(f"provenance field {pointer} nests requests too deeply")
    out: list[Arg] = []
    root = _obj(request, "root", pointer_join(pointer, "root"))
    if root:
        inner_ptr = pointer_join(pointer, "root", "request")
        inner = _obj(root, "request", inner_ptr)
        out.extend(_args(inner, inner_ptr))
        out.extend(_nested_args(inner, inner_ptr, depth + 1))
    inputs = _obj(request, "inputs", pointer_join(pointer, "inputs"))
    for name, value in sorted(inputs.items()):
        p = pointer_join(pointer, "inputs", name)
        if not isinstance(value, dict):
            raise AttestationError(f"provenance field {p} must be an object")
        inner_ptr = pointer_join(p, "request")
        inner = _obj(value, "request", inner_ptr)
        out.extend(_args(inner, inner_ptr))
        out.extend(_nested_args(inner, inner_ptr, depth + 1))
    return out


def _materials(items: list[Any], pointer: str) -> tuple[Material, ...]:
    out: list[Material] = []
    for i, item in enumerate(items):
        p = pointer_join(pointer, i)
        if not isinstance(item, dict):
            raise AttestationError(f"provenance field {p} must be an object")
        uri = _str(item, "uri", pointer_join(p, "uri")) or ""
        digest = _obj(item, "digest", pointer_join(p, "digest"))
        if not all(isinstance(v, str) for v in digest.values()):
            raise AttestationError(f"provenance field {p}/digest must map to strings")
        out.append(Material(uri, MappingProxyType(dict(digest)), p))
    return tuple(out)


def _build_config(
    config: Mapping[str, Any], pointer: str
) -> tuple[list[EnvEntry], list[str], list[str]]:
    env: list[EnvEntry] = []
    sources: list[str] = []
    layouts: list[str] = []
    steps = _list(config, "llbDefinition", pointer_join(pointer, "llbDefinition"))
    for i, step in enumerate(steps):
        sp = pointer_join(pointer, "llbDefinition", i)
        if not isinstance(step, dict):
            raise AttestationError(f"provenance field {sp} must be an object")
        op = _obj(_obj(step, "op", pointer_join(sp, "op")), "Op", pointer_join(sp, "op", "Op"))
        source = _obj(op, "source", pointer_join(sp, "op", "Op", "source"))
        ident = _str(source, "identifier", pointer_join(sp, "op", "Op", "source", "identifier"))
        if ident and ident.startswith(DOCKER_IMAGE_SCHEME):
            sources.append(ident[len(DOCKER_IMAGE_SCHEME) :])
        elif ident and ident.startswith(OCI_LAYOUT_SCHEME):
            layouts.append(ident[len(OCI_LAYOUT_SCHEME) :])
        exec_ptr = pointer_join(sp, "op", "Op", "exec")
        meta_ptr = pointer_join(exec_ptr, "meta")
        meta = _obj(_obj(op, "exec", exec_ptr), "meta", meta_ptr)
        for j, entry in enumerate(_list(meta, "env", pointer_join(meta_ptr, "env"))):
            ep = pointer_join(meta_ptr, "env", j)
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


def _vcs(metadata: Mapping[str, Any]) -> tuple[str | None, str | None]:
    vcs = metadata.get("vcs")
    if not isinstance(vcs, dict):
        return None, None
    source, revision = vcs.get("source"), vcs.get("revision")
    return (
        source if isinstance(source, str) else None,
        revision if isinstance(revision, str) else None,
    )


# -- the two versions ---------------------------------------------------------------------------


def _parse_v02(pred: Mapping[str, Any], predicate_type: str) -> ProvenanceV02:
    base = "/predicate"
    builder = _obj(pred, "builder", pointer_join(base, "builder"))
    inv_ptr = pointer_join(base, "invocation")
    invocation = _obj(pred, "invocation", inv_ptr)
    params_ptr = pointer_join(inv_ptr, "parameters")
    params = _obj(invocation, "parameters", params_ptr)
    env = _obj(invocation, "environment", pointer_join(inv_ptr, "environment"))
    cs_ptr = pointer_join(inv_ptr, "configSource")
    cs = _obj(invocation, "configSource", cs_ptr)
    meta_ptr = pointer_join(base, "metadata")
    meta = _obj(pred, "metadata", meta_ptr)
    completeness = _obj(meta, "completeness", pointer_join(meta_ptr, "completeness"))
    bk_meta = _obj(meta, BUILDKIT_METADATA_V02, pointer_join(meta_ptr, BUILDKIT_METADATA_V02))
    bc_ptr = pointer_join(base, "buildConfig")
    build_config = _obj(pred, "buildConfig", bc_ptr)
    llb_env, llb_sources, llb_layouts = _build_config(build_config, bc_ptr)
    vcs_source, vcs_revision = _vcs(bk_meta)
    platform = env.get("platform")
    return ProvenanceV02(
        predicate_type=predicate_type,
        build_type=_str(pred, "buildType", pointer_join(base, "buildType")) or "",
        builder_id=_str(builder, "id", pointer_join(base, "builder", "id")) or "",
        frontend=_str(params, "frontend", pointer_join(params_ptr, "frontend")),
        args=_args(params, params_ptr),
        nested_args=tuple(_nested_args(params, params_ptr)),
        secrets=_ids(
            _list(params, "secrets", pointer_join(params_ptr, "secrets")),
            pointer_join(params_ptr, "secrets"),
            "id",
        ),
        ssh=_ids(
            _list(params, "ssh", pointer_join(params_ptr, "ssh")),
            pointer_join(params_ptr, "ssh"),
            "id",
        ),
        locals=_ids(
            _list(params, "locals", pointer_join(params_ptr, "locals")),
            pointer_join(params_ptr, "locals"),
            "name",
        ),
        config_source=ConfigSource(
            uri=_str(cs, "uri", pointer_join(cs_ptr, "uri")),
            digest=dict(_obj(cs, "digest", pointer_join(cs_ptr, "digest"))),
            path=_str(cs, "entryPoint", pointer_join(cs_ptr, "entryPoint")),
        ),
        materials=_materials(
            _list(pred, "materials", pointer_join(base, "materials")),
            pointer_join(base, "materials"),
        ),
        invocation_id=_str(meta, "buildInvocationID", pointer_join(meta_ptr, "buildInvocationID"))
        or _str(meta, "buildInvocationId", pointer_join(meta_ptr, "buildInvocationId")),
        started_on=_time(meta, "buildStartedOn", pointer_join(meta_ptr, "buildStartedOn")),
        finished_on=_time(meta, "buildFinishedOn", pointer_join(meta_ptr, "buildFinishedOn")),
        args_complete=_bool(
            completeness, "parameters", pointer_join(meta_ptr, "completeness", "parameters")
        ),
        materials_complete=_bool(
            completeness, "materials", pointer_join(meta_ptr, "completeness", "materials")
        ),
        max_mode="buildConfig" in pred and pred["buildConfig"] is not None,
        hermetic=meta.get(BUILDKIT_HERMETIC_V02) is True,
        reproducible=meta.get("reproducible") is True,
        vcs_source=vcs_source,
        vcs_revision=vcs_revision,
        dockerfile=_dockerfile(_obj(bk_meta, "source", meta_ptr + "/source")),
        builder_platform=platform if isinstance(platform, str) else None,
        llb_env=tuple(llb_env),
        llb_image_sources=tuple(llb_sources),
        llb_layout_sources=tuple(llb_layouts),
        pointers=MappingProxyType(
            {
                "builder": pointer_join(base, "builder", "id"),
                "frontend": pointer_join(params_ptr, "frontend"),
                "source": pointer_join(params_ptr, "args", "source"),
                "args": pointer_join(params_ptr, "args"),
                "materials": pointer_join(base, "materials"),
                "finished": pointer_join(meta_ptr, "buildFinishedOn"),
                "completeness": pointer_join(meta_ptr, "completeness", "parameters"),
                "build-config": bc_ptr,
            }
        ),
        raw=pred,
    )


def _parse_v1(pred: Mapping[str, Any], predicate_type: str) -> ProvenanceV1:
    base = "/predicate"
    bd_ptr = pointer_join(base, "buildDefinition")
    bd = _obj(pred, "buildDefinition", bd_ptr)
    ext_ptr = pointer_join(bd_ptr, "externalParameters")
    ext = _obj(bd, "externalParameters", ext_ptr)
    req_ptr = pointer_join(ext_ptr, "request")
    request = _obj(ext, "request", req_ptr)
    cs_ptr = pointer_join(ext_ptr, "configSource")
    cs = _obj(ext, "configSource", cs_ptr)
    int_ptr = pointer_join(bd_ptr, "internalParameters")
    internal = _obj(bd, "internalParameters", int_ptr)
    bc_ptr = pointer_join(int_ptr, "buildConfig")
    build_config = _obj(internal, "buildConfig", bc_ptr)
    llb_env, llb_sources, llb_layouts = _build_config(build_config, bc_ptr)
    rd_ptr = pointer_join(base, "runDetails")
    run = _obj(pred, "runDetails", rd_ptr)
    builder = _obj(run, "builder", pointer_join(rd_ptr, "builder"))
    meta_ptr = pointer_join(rd_ptr, "metadata")
    meta = _obj(run, "metadata", meta_ptr)
    comp_ptr = pointer_join(meta_ptr, "buildkit_completeness")
    completeness = _obj(meta, "buildkit_completeness", comp_ptr)
    bk_meta = _obj(meta, "buildkit_metadata", pointer_join(meta_ptr, "buildkit_metadata"))
    vcs_source, vcs_revision = _vcs(bk_meta)
    platform = internal.get("builderPlatform")
    return ProvenanceV1(
        predicate_type=predicate_type,
        build_type=_str(bd, "buildType", pointer_join(bd_ptr, "buildType")) or "",
        builder_id=_str(builder, "id", pointer_join(rd_ptr, "builder", "id")) or "",
        frontend=_str(request, "frontend", pointer_join(req_ptr, "frontend")),
        args=_args(request, req_ptr),
        nested_args=tuple(_nested_args(request, req_ptr)),
        secrets=_ids(
            _list(request, "secrets", pointer_join(req_ptr, "secrets")),
            pointer_join(req_ptr, "secrets"),
            "id",
        ),
        ssh=_ids(
            _list(request, "ssh", pointer_join(req_ptr, "ssh")), pointer_join(req_ptr, "ssh"), "id"
        ),
        locals=_ids(
            _list(request, "locals", pointer_join(req_ptr, "locals")),
            pointer_join(req_ptr, "locals"),
            "name",
        ),
        config_source=ConfigSource(
            uri=_str(cs, "uri", pointer_join(cs_ptr, "uri")),
            digest=dict(_obj(cs, "digest", pointer_join(cs_ptr, "digest"))),
            path=_str(cs, "path", pointer_join(cs_ptr, "path")),
        ),
        materials=_materials(
            _list(bd, "resolvedDependencies", pointer_join(bd_ptr, "resolvedDependencies")),
            pointer_join(bd_ptr, "resolvedDependencies"),
        ),
        invocation_id=_str(meta, "invocationId", pointer_join(meta_ptr, "invocationId"))
        or _str(meta, "invocationID", pointer_join(meta_ptr, "invocationID")),
        started_on=_time(meta, "startedOn", pointer_join(meta_ptr, "startedOn")),
        finished_on=_time(meta, "finishedOn", pointer_join(meta_ptr, "finishedOn")),
        args_complete=_bool(completeness, "request", pointer_join(comp_ptr, "request")),
        materials_complete=_bool(
            completeness, "resolvedDependencies", pointer_join(comp_ptr, "resolvedDependencies")
        ),
        max_mode="buildConfig" in internal and internal["buildConfig"] is not None,
        hermetic=meta.get("buildkit_hermetic") is True,
        reproducible=meta.get("buildkit_reproducible") is True,
        vcs_source=vcs_source,
        vcs_revision=vcs_revision,
        dockerfile=_dockerfile(_obj(bk_meta, "source", meta_ptr + "/buildkit_metadata/source")),
        builder_platform=platform if isinstance(platform, str) else None,
        llb_env=tuple(llb_env),
        llb_image_sources=tuple(llb_sources),
        llb_layout_sources=tuple(llb_layouts),
        pointers=MappingProxyType(
            {
                "builder": pointer_join(rd_ptr, "builder", "id"),
                "frontend": pointer_join(req_ptr, "frontend"),
                "source": pointer_join(req_ptr, "args", "source"),
                "args": pointer_join(req_ptr, "args"),
                "materials": pointer_join(bd_ptr, "resolvedDependencies"),
                "finished": pointer_join(meta_ptr, "finishedOn"),
                "completeness": pointer_join(comp_ptr, "request"),
                "build-config": bc_ptr,
            }
        ),
        raw=pred,
    )


def parse_provenance_predicate(predicate: object, predicate_type: str) -> Provenance:
    """Parse a SLSA v0.2 or v1 predicate (the raw JSON object).

    Raises :class:`AttestationError` for another predicate type, a predicate that is not an
    object, or a known field of the wrong JSON type. Never raises anything else.
    """
    if not isinstance(predicate, Mapping):
        raise AttestationError("provenance predicate must be a JSON object")
    try:
        if predicate_type == SLSA_PROVENANCE_V02:
            return _parse_v02(predicate, predicate_type)
        if predicate_type == SLSA_PROVENANCE_V1:
            return _parse_v1(predicate, predicate_type)
    except RecursionError as exc:  # pragma: no cover - json.loads limits depth first
        raise AttestationError("provenance predicate nests too deeply") from exc
    raise AttestationError(f"not a SLSA provenance predicate type: {predicate_type[:100]!r}")


def parse_provenance(statement: Statement) -> Provenance:
    """Parse the provenance predicate of ``statement``. Raises :class:`AttestationError`."""
    return parse_provenance_predicate(statement.predicate, statement.predicate_type)
