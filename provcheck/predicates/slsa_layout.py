"""Where SLSA provenance v0.2 and v1 keep each field, as BuildKit writes them (formats.md §6.3).

One :class:`Layout` per version maps every :class:`SlsaField` to its JSON path below
``predicate``. The parser reads values from these paths and derives every RFC 6901 pointer it
reports from them; nothing else names a provenance path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeAlias

from provcheck.predicates import SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1

BUILDKIT_METADATA_V02: Final = "https://mobyproject.org/buildkit@v1#metadata"
BUILDKIT_HERMETIC_V02: Final = "https://mobyproject.org/buildkit@v1#hermetic"

JsonPath: TypeAlias = tuple[str, ...]
"""Object keys from ``predicate`` down to a field."""


class SlsaField(StrEnum):
    """A logical provenance field; its value is the key in ``Provenance.pointers``."""

    BUILD_TYPE = "build-type"
    BUILDER = "builder"
    """``builder.id``."""
    REQUEST = "request"
    """The frontend request (v0.2 ``invocation.parameters``)."""
    FRONTEND = "frontend"
    ARGS = "args"
    SOURCE = "source"
    """``args.source``: the frontend image that ran."""
    SECRETS = "secrets"
    SSH = "ssh"
    LOCALS = "locals"
    CONFIG_URI = "config-uri"
    CONFIG_DIGEST = "config-digest"
    CONFIG_PATH = "config-path"
    BUILDER_PLATFORM = "builder-platform"
    MATERIALS = "materials"
    """``materials`` (v0.2) / ``resolvedDependencies`` (v1)."""
    INVOCATION_ID = "invocation-id"
    STARTED = "started"
    FINISHED = "finished"
    COMPLETENESS = "completeness"
    """Completeness of the request args (``parameters`` / ``request``)."""
    MATERIALS_COMPLETENESS = "materials-completeness"
    HERMETIC = "hermetic"
    REPRODUCIBLE = "reproducible"
    BUILDKIT_METADATA = "buildkit-metadata"
    VCS = "vcs"
    DOCKERFILE = "dockerfile"
    """The Dockerfile source map (``source.infos[].data``, max mode)."""
    LAYERS = "layers"
    BUILD_CONFIG = "build-config"
    LLB_DEFINITION = "llb-definition"


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of one SLSA version."""

    paths: Mapping[SlsaField, JsonPath]
    alternates: Mapping[SlsaField, JsonPath] = field(default_factory=dict)
    """Another spelling that writers use for a field; read when the main path holds nothing."""


# -- the shapes inside a BuildKit request and an LLB step (the same in both versions) -----------

REQUEST_ARGS: Final[JsonPath] = ("args",)
REQUEST_ROOT: Final[JsonPath] = ("root",)
"""``{configSource, request}``: the original client request, when the frontend forwarded it."""
REQUEST_INPUTS: Final[JsonPath] = ("inputs",)
"""``{name: {configSource, request}}``: the requests of frontend inputs."""
NESTED_REQUEST: Final[JsonPath] = ("request",)
MATERIAL_URI: Final[JsonPath] = ("uri",)
MATERIAL_DIGEST: Final[JsonPath] = ("digest",)
STEP_SOURCE_IDENTIFIER: Final[JsonPath] = ("op", "Op", "source", "identifier")
STEP_EXEC_ENV: Final[JsonPath] = ("op", "Op", "exec", "meta", "env")


# -- v0.2 ------------------------------------------------------------------------------------

_V02_REQUEST: Final = ("invocation", "parameters")
_V02_CONFIG: Final = ("invocation", "configSource")
_V02_COMPLETENESS: Final = ("metadata", "completeness")
_V02_BUILDKIT: Final = ("metadata", BUILDKIT_METADATA_V02)

SLSA_V02_LAYOUT: Final = Layout(
    MappingProxyType(
        {
            SlsaField.BUILD_TYPE: ("buildType",),
            SlsaField.BUILDER: ("builder", "id"),
            SlsaField.REQUEST: _V02_REQUEST,
            SlsaField.FRONTEND: (*_V02_REQUEST, "frontend"),
            SlsaField.ARGS: (*_V02_REQUEST, "args"),
            SlsaField.SOURCE: (*_V02_REQUEST, "args", "source"),
            SlsaField.SECRETS: (*_V02_REQUEST, "secrets"),
            SlsaField.SSH: (*_V02_REQUEST, "ssh"),
            SlsaField.LOCALS: (*_V02_REQUEST, "locals"),
            SlsaField.CONFIG_URI: (*_V02_CONFIG, "uri"),
            SlsaField.CONFIG_DIGEST: (*_V02_CONFIG, "digest"),
            SlsaField.CONFIG_PATH: (*_V02_CONFIG, "entryPoint"),
            SlsaField.BUILDER_PLATFORM: ("invocation", "environment", "platform"),
            SlsaField.MATERIALS: ("materials",),
            SlsaField.INVOCATION_ID: ("metadata", "buildInvocationID"),
            SlsaField.STARTED: ("metadata", "buildStartedOn"),
            SlsaField.FINISHED: ("metadata", "buildFinishedOn"),
            SlsaField.COMPLETENESS: (*_V02_COMPLETENESS, "parameters"),
            SlsaField.MATERIALS_COMPLETENESS: (*_V02_COMPLETENESS, "materials"),
            SlsaField.HERMETIC: ("metadata", BUILDKIT_HERMETIC_V02),
            SlsaField.REPRODUCIBLE: ("metadata", "reproducible"),
            SlsaField.BUILDKIT_METADATA: _V02_BUILDKIT,
            SlsaField.VCS: (*_V02_BUILDKIT, "vcs"),
            SlsaField.DOCKERFILE: (*_V02_BUILDKIT, "source"),
            SlsaField.LAYERS: (*_V02_BUILDKIT, "layers"),
            SlsaField.BUILD_CONFIG: ("buildConfig",),
            SlsaField.LLB_DEFINITION: ("buildConfig", "llbDefinition"),
        }
    ),
    # the SLSA v0.2 spec's spelling; BuildKit writes "buildInvocationID"
    MappingProxyType({SlsaField.INVOCATION_ID: ("metadata", "buildInvocationId")}),
)


# -- v1 --------------------------------------------------------------------------------------

_V1_REQUEST: Final = ("buildDefinition", "externalParameters", "request")
_V1_CONFIG: Final = ("buildDefinition", "externalParameters", "configSource")
_V1_INTERNAL: Final = ("buildDefinition", "internalParameters")
_V1_META: Final = ("runDetails", "metadata")
_V1_COMPLETENESS: Final = (*_V1_META, "buildkit_completeness")
_V1_BUILDKIT: Final = (*_V1_META, "buildkit_metadata")

SLSA_V1_LAYOUT: Final = Layout(
    MappingProxyType(
        {
            SlsaField.BUILD_TYPE: ("buildDefinition", "buildType"),
            SlsaField.BUILDER: ("runDetails", "builder", "id"),
            SlsaField.REQUEST: _V1_REQUEST,
            SlsaField.FRONTEND: (*_V1_REQUEST, "frontend"),
            SlsaField.ARGS: (*_V1_REQUEST, "args"),
            SlsaField.SOURCE: (*_V1_REQUEST, "args", "source"),
            SlsaField.SECRETS: (*_V1_REQUEST, "secrets"),
            SlsaField.SSH: (*_V1_REQUEST, "ssh"),
            SlsaField.LOCALS: (*_V1_REQUEST, "locals"),
            SlsaField.CONFIG_URI: (*_V1_CONFIG, "uri"),
            SlsaField.CONFIG_DIGEST: (*_V1_CONFIG, "digest"),
            SlsaField.CONFIG_PATH: (*_V1_CONFIG, "path"),
            SlsaField.BUILDER_PLATFORM: (*_V1_INTERNAL, "builderPlatform"),
            SlsaField.MATERIALS: ("buildDefinition", "resolvedDependencies"),
            SlsaField.INVOCATION_ID: (*_V1_META, "invocationId"),
            SlsaField.STARTED: (*_V1_META, "startedOn"),
            SlsaField.FINISHED: (*_V1_META, "finishedOn"),
            SlsaField.COMPLETENESS: (*_V1_COMPLETENESS, "request"),
            SlsaField.MATERIALS_COMPLETENESS: (*_V1_COMPLETENESS, "resolvedDependencies"),
            SlsaField.HERMETIC: (*_V1_META, "buildkit_hermetic"),
            SlsaField.REPRODUCIBLE: (*_V1_META, "buildkit_reproducible"),
            SlsaField.BUILDKIT_METADATA: _V1_BUILDKIT,
            SlsaField.VCS: (*_V1_BUILDKIT, "vcs"),
            SlsaField.DOCKERFILE: (*_V1_BUILDKIT, "source"),
            SlsaField.LAYERS: (*_V1_BUILDKIT, "layers"),
            SlsaField.BUILD_CONFIG: (*_V1_INTERNAL, "buildConfig"),
            SlsaField.LLB_DEFINITION: (*_V1_INTERNAL, "buildConfig", "llbDefinition"),
        }
    ),
    # BuildKit before v0.28 (e.g. v0.26 with version=v1) and its docs spell it "invocationID"
    MappingProxyType({SlsaField.INVOCATION_ID: (*_V1_META, "invocationID")}),
)

LAYOUTS: Final[Mapping[str, Layout]] = MappingProxyType(
    {SLSA_PROVENANCE_V02: SLSA_V02_LAYOUT, SLSA_PROVENANCE_V1: SLSA_V1_LAYOUT}
)
