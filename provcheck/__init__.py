"""provcheck: verify the supply-chain attestations of container images.

The library API: :func:`inspect_image` discovers and binds the attestations of an image,
:func:`verify_image` evaluates a policy on them and returns a :class:`Report`,
:func:`sbom_image` gathers its SBOMs; each has an async twin that also takes a shared
:class:`RegistryClient`. Nothing here prints or exits; errors are :class:`ProvcheckError`
subclasses. ``__all__`` is the public surface; everything else (the submodules included) is
plumbing that may change. Names are imported on first use, so ``import provcheck`` stays cheap
for the command line.
"""

from __future__ import annotations

import importlib
import typing

__version__ = "0.1.0"

if typing.TYPE_CHECKING:
    from provcheck.api import (
        inspect_image,
        inspect_image_async,
        sbom_image,
        sbom_image_async,
        verify_image,
        verify_image_async,
    )
    from provcheck.attestation.binding import Binding, BindingStatus
    from provcheck.attestation.signatures import Identity, SignatureCheck, SignedObject, TrustConfig
    from provcheck.attestation.statement import Statement, Subject
    from provcheck.discovery.limits import Limits
    from provcheck.discovery.model import (
        AttestationForm,
        AttestationLayer,
        AttestationManifest,
        AttestationOrigin,
        ImageAttestations,
        PlatformImage,
        Problem,
        ProblemKind,
        TrustLevel,
        UsableStatement,
    )
    from provcheck.discovery.options import DiscoveryOptions
    from provcheck.discovery.serialize import (
        attestations_from_dict,
        attestations_to_dict,
        dump_attestations,
        load_attestations,
    )
    from provcheck.errors import (
        AdmissionRequestError,
        AttestationError,
        AuthenticationError,
        CacheError,
        ContentTooLargeError,
        DeadlineExceededError,
        DocumentError,
        IntegrityError,
        InvalidReferenceError,
        KeyResolutionError,
        LimitExceededError,
        ManifestError,
        NoSbomError,
        NotFoundError,
        PlatformNotFoundError,
        PolicyError,
        PolicyMistakesError,
        ProvcheckError,
        RegistryConnectionError,
        RegistryError,
        RegistryHTTPError,
        SbomError,
        SchemaVersionError,
        StatementError,
        UsageError,
        VerificationError,
    )
    from provcheck.oci.digest import Digest
    from provcheck.oci.model import Descriptor
    from provcheck.oci.platform import Platform
    from provcheck.oci.reference import ImageReference, LayoutReference
    from provcheck.policy import (
        FileResolver,
        KeyResolver,
        MappingResolver,
        Policy,
        evaluate,
        load_policy,
        parse_policy,
    )
    from provcheck.report import (
        Evidence,
        OnIncomplete,
        Report,
        ReportFormat,
        RuleResult,
        Status,
        Verdict,
        render,
    )
    from provcheck.report.json import parse_report, report_from_dict, report_to_dict
    from provcheck.sbom.collect import ImageSboms, collect_sboms
    from provcheck.sbom.export import SbomEntry
    from provcheck.sbom.model import Component, Sbom, SbomFormat
    from provcheck.source.limiter import HostLimiter, RequestLimiter
    from provcheck.source.registry import (
        CredentialProvider,
        Credentials,
        DockerCredentials,
        RegistryClient,
        RegistryOptions,
        StaticCredentials,
    )
    from provcheck.source.store import ContentStore, MemoryStore

_LAZY: typing.Final[dict[str, str]] = {
    "AdmissionRequestError": "provcheck.errors",
    "AttestationError": "provcheck.errors",
    "AttestationForm": "provcheck.discovery.model",
    "AttestationLayer": "provcheck.discovery.model",
    "AttestationManifest": "provcheck.discovery.model",
    "AttestationOrigin": "provcheck.discovery.model",
    "AuthenticationError": "provcheck.errors",
    "Binding": "provcheck.attestation.binding",
    "BindingStatus": "provcheck.attestation.binding",
    "Component": "provcheck.sbom.model",
    "ContentStore": "provcheck.source.store",
    "ContentTooLargeError": "provcheck.errors",
    "CredentialProvider": "provcheck.source.registry",
    "CacheError": "provcheck.errors",
    "Credentials": "provcheck.source.registry",
    "DeadlineExceededError": "provcheck.errors",
    "Descriptor": "provcheck.oci.model",
    "Digest": "provcheck.oci.digest",
    "DiscoveryOptions": "provcheck.discovery.options",
    "DockerCredentials": "provcheck.source.registry",
    "DocumentError": "provcheck.errors",
    "Evidence": "provcheck.report",
    "FileResolver": "provcheck.policy",
    "HostLimiter": "provcheck.source.limiter",
    "Identity": "provcheck.attestation.signatures",
    "ImageAttestations": "provcheck.discovery.model",
    "ImageReference": "provcheck.oci.reference",
    "ImageSboms": "provcheck.sbom.collect",
    "IntegrityError": "provcheck.errors",
    "InvalidReferenceError": "provcheck.errors",
    "KeyResolutionError": "provcheck.errors",
    "KeyResolver": "provcheck.policy",
    "LayoutReference": "provcheck.oci.reference",
    "LimitExceededError": "provcheck.errors",
    "Limits": "provcheck.discovery.limits",
    "ManifestError": "provcheck.errors",
    "MappingResolver": "provcheck.policy",
    "MemoryStore": "provcheck.source.store",
    "NoSbomError": "provcheck.errors",
    "NotFoundError": "provcheck.errors",
    "OnIncomplete": "provcheck.report",
    "Platform": "provcheck.oci.platform",
    "PlatformImage": "provcheck.discovery.model",
    "PlatformNotFoundError": "provcheck.errors",
    "Policy": "provcheck.policy",
    "PolicyError": "provcheck.errors",
    "PolicyMistakesError": "provcheck.errors",
    "Problem": "provcheck.discovery.model",
    "ProblemKind": "provcheck.discovery.model",
    "ProvcheckError": "provcheck.errors",
    "RegistryClient": "provcheck.source.registry",
    "RegistryConnectionError": "provcheck.errors",
    "RegistryError": "provcheck.errors",
    "RegistryHTTPError": "provcheck.errors",
    "RegistryOptions": "provcheck.source.registry",
    "Report": "provcheck.report",
    "ReportFormat": "provcheck.report",
    "RequestLimiter": "provcheck.source.limiter",
    "RuleResult": "provcheck.report",
    "Sbom": "provcheck.sbom.model",
    "SbomEntry": "provcheck.sbom.export",
    "SbomError": "provcheck.errors",
    "SbomFormat": "provcheck.sbom.model",
    "SchemaVersionError": "provcheck.errors",
    "SignatureCheck": "provcheck.attestation.signatures",
    "SignedObject": "provcheck.attestation.signatures",
    "Statement": "provcheck.attestation.statement",
    "StatementError": "provcheck.errors",
    "StaticCredentials": "provcheck.source.registry",
    "Status": "provcheck.report",
    "Subject": "provcheck.attestation.statement",
    "TrustConfig": "provcheck.attestation.signatures",
    "TrustLevel": "provcheck.discovery.model",
    "UsableStatement": "provcheck.discovery.model",
    "UsageError": "provcheck.errors",
    "Verdict": "provcheck.report",
    "VerificationError": "provcheck.errors",
    "attestations_from_dict": "provcheck.discovery.serialize",
    "attestations_to_dict": "provcheck.discovery.serialize",
    "collect_sboms": "provcheck.sbom.collect",
    "dump_attestations": "provcheck.discovery.serialize",
    "evaluate": "provcheck.policy",
    "inspect_image": "provcheck.api",
    "inspect_image_async": "provcheck.api",
    "load_attestations": "provcheck.discovery.serialize",
    "load_policy": "provcheck.policy",
    "parse_policy": "provcheck.policy",
    "parse_report": "provcheck.report.json",
    "render": "provcheck.report",
    "report_from_dict": "provcheck.report.json",
    "report_to_dict": "provcheck.report.json",
    "sbom_image": "provcheck.api",
    "sbom_image_async": "provcheck.api",
    "verify_image": "provcheck.api",
    "verify_image_async": "provcheck.api",
}
"""Where each public name lives (the imports above, for type checkers, say the same)."""

__all__ = [
    "AdmissionRequestError",
    "AttestationError",
    "AttestationForm",
    "AttestationLayer",
    "AttestationManifest",
    "AttestationOrigin",
    "AuthenticationError",
    "Binding",
    "BindingStatus",
    "CacheError",
    "Component",
    "ContentStore",
    "ContentTooLargeError",
    "CredentialProvider",
    "Credentials",
    "DeadlineExceededError",
    "Descriptor",
    "Digest",
    "DiscoveryOptions",
    "DockerCredentials",
    "DocumentError",
    "Evidence",
    "FileResolver",
    "HostLimiter",
    "Identity",
    "ImageAttestations",
    "ImageReference",
    "ImageSboms",
    "IntegrityError",
    "InvalidReferenceError",
    "KeyResolutionError",
    "KeyResolver",
    "LayoutReference",
    "LimitExceededError",
    "Limits",
    "ManifestError",
    "MappingResolver",
    "MemoryStore",
    "NoSbomError",
    "NotFoundError",
    "OnIncomplete",
    "Platform",
    "PlatformImage",
    "PlatformNotFoundError",
    "Policy",
    "PolicyError",
    "PolicyMistakesError",
    "Problem",
    "ProblemKind",
    "ProvcheckError",
    "RegistryClient",
    "RegistryConnectionError",
    "RegistryError",
    "RegistryHTTPError",
    "RegistryOptions",
    "Report",
    "ReportFormat",
    "RequestLimiter",
    "RuleResult",
    "Sbom",
    "SbomEntry",
    "SbomError",
    "SbomFormat",
    "SchemaVersionError",
    "SignatureCheck",
    "SignedObject",
    "Statement",
    "StatementError",
    "StaticCredentials",
    "Status",
    "Subject",
    "TrustConfig",
    "TrustLevel",
    "UsableStatement",
    "UsageError",
    "Verdict",
    "VerificationError",
    "__version__",
    "attestations_from_dict",
    "attestations_to_dict",
    "collect_sboms",
    "dump_attestations",
    "evaluate",
    "inspect_image",
    "inspect_image_async",
    "load_attestations",
    "load_policy",
    "parse_policy",
    "parse_report",
    "render",
    "report_from_dict",
    "report_to_dict",
    "sbom_image",
    "sbom_image_async",
    "verify_image",
    "verify_image_async",
]


def __getattr__(name: str) -> typing.Any:
    """Import a public name from its module on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'provcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names too, which are not imported yet."""
    return sorted({*globals(), *__all__})
