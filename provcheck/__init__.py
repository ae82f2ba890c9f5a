"""provcheck: verify the supply-chain attestations of container images.

The library API: :func:`inspect_image` discovers and binds the attestations of an image,
:func:`verify_image` evaluates a policy on them and returns a :class:`Report`,
:func:`sbom_image` gathers its SBOMs; each has an async twin that also takes a shared
:class:`RegistryClient`. Beyond a verdict: :func:`explain_image` says what evidence an image has
and why some is missing, :func:`save_pack` keeps the exact bytes a verdict came from (replayed
as an ``oci-layout://`` reference), :func:`summarise_async` writes (signs, attaches) a SLSA
verification summary, :func:`convert_sbom` and :func:`validate_schema` convert and check SBOMs,
and :class:`Gate` answers Kubernetes ``AdmissionReview`` requests. Nothing here prints or
exits; errors are :class:`ProvcheckError` subclasses. ``__all__`` is the public surface;
everything else (the submodules included) is plumbing that may change. Names are imported on
first use, so ``import provcheck`` stays cheap for the command line.
"""

from __future__ import annotations

import importlib
import typing

__version__ = "0.1.0"

if typing.TYPE_CHECKING:
    from provcheck.admission.gate import Gate
    from provcheck.admission.outcome import Decision, ReviewOutcome
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
    from provcheck.attestation.signing import SigningKey, load_signing_key
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
        ConversionLimitError,
        DeadlineExceededError,
        DocumentError,
        EnvelopeError,
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
        StatementBuildError,
        StatementError,
        TlogError,
        UsageError,
        VerificationError,
        VersionUnknownError,
    )
    from provcheck.evidence.pack import PackInputs, save_pack
    from provcheck.evidence.record import Recording
    from provcheck.explain import Explanation, explain_image, explain_options
    from provcheck.explain.render import explanation_to_dict, render_explanation
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
    from provcheck.sbom.convert import Conversion, convert_sbom
    from provcheck.sbom.export import SbomEntry
    from provcheck.sbom.model import Component, Sbom, SbomFormat
    from provcheck.sbom.schema import SchemaReport, validate_schema
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
    from provcheck.vsa.run import Summary, summarise_async

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
    "CacheError": "provcheck.errors",
    "Component": "provcheck.sbom.model",
    "ContentStore": "provcheck.source.store",
    "ContentTooLargeError": "provcheck.errors",
    "Conversion": "provcheck.sbom.convert",
    "ConversionLimitError": "provcheck.errors",
    "CredentialProvider": "provcheck.source.registry",
    "Credentials": "provcheck.source.registry",
    "DeadlineExceededError": "provcheck.errors",
    "Decision": "provcheck.admission.outcome",
    "Descriptor": "provcheck.oci.model",
    "Digest": "provcheck.oci.digest",
    "DiscoveryOptions": "provcheck.discovery.options",
    "DockerCredentials": "provcheck.source.registry",
    "DocumentError": "provcheck.errors",
    "EnvelopeError": "provcheck.errors",
    "Evidence": "provcheck.report",
    "Explanation": "provcheck.explain",
    "FileResolver": "provcheck.policy",
    "Gate": "provcheck.admission.gate",
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
    "PackInputs": "provcheck.evidence.pack",
    "Platform": "provcheck.oci.platform",
    "PlatformImage": "provcheck.discovery.model",
    "PlatformNotFoundError": "provcheck.errors",
    "Policy": "provcheck.policy",
    "PolicyError": "provcheck.errors",
    "PolicyMistakesError": "provcheck.errors",
    "Problem": "provcheck.discovery.model",
    "ProblemKind": "provcheck.discovery.model",
    "ProvcheckError": "provcheck.errors",
    "Recording": "provcheck.evidence.record",
    "RegistryClient": "provcheck.source.registry",
    "RegistryConnectionError": "provcheck.errors",
    "RegistryError": "provcheck.errors",
    "RegistryHTTPError": "provcheck.errors",
    "RegistryOptions": "provcheck.source.registry",
    "Report": "provcheck.report",
    "ReportFormat": "provcheck.report",
    "RequestLimiter": "provcheck.source.limiter",
    "ReviewOutcome": "provcheck.admission.outcome",
    "RuleResult": "provcheck.report",
    "Sbom": "provcheck.sbom.model",
    "SbomEntry": "provcheck.sbom.export",
    "SbomError": "provcheck.errors",
    "SbomFormat": "provcheck.sbom.model",
    "SchemaReport": "provcheck.sbom.schema",
    "SchemaVersionError": "provcheck.errors",
    "SignatureCheck": "provcheck.attestation.signatures",
    "SignedObject": "provcheck.attestation.signatures",
    "SigningKey": "provcheck.attestation.signing",
    "Statement": "provcheck.attestation.statement",
    "StatementBuildError": "provcheck.errors",
    "StatementError": "provcheck.errors",
    "StaticCredentials": "provcheck.source.registry",
    "Status": "provcheck.report",
    "Subject": "provcheck.attestation.statement",
    "Summary": "provcheck.vsa.run",
    "TlogError": "provcheck.errors",
    "TrustConfig": "provcheck.attestation.signatures",
    "TrustLevel": "provcheck.discovery.model",
    "UsableStatement": "provcheck.discovery.model",
    "UsageError": "provcheck.errors",
    "Verdict": "provcheck.report",
    "VerificationError": "provcheck.errors",
    "VersionUnknownError": "provcheck.errors",
    "attestations_from_dict": "provcheck.discovery.serialize",
    "attestations_to_dict": "provcheck.discovery.serialize",
    "collect_sboms": "provcheck.sbom.collect",
    "convert_sbom": "provcheck.sbom.convert",
    "dump_attestations": "provcheck.discovery.serialize",
    "evaluate": "provcheck.policy",
    "explain_image": "provcheck.explain",
    "explain_options": "provcheck.explain",
    "explanation_to_dict": "provcheck.explain.render",
    "inspect_image": "provcheck.api",
    "inspect_image_async": "provcheck.api",
    "load_attestations": "provcheck.discovery.serialize",
    "load_policy": "provcheck.policy",
    "load_signing_key": "provcheck.attestation.signing",
    "parse_policy": "provcheck.policy",
    "parse_report": "provcheck.report.json",
    "render": "provcheck.report",
    "render_explanation": "provcheck.explain.render",
    "report_from_dict": "provcheck.report.json",
    "report_to_dict": "provcheck.report.json",
    "save_pack": "provcheck.evidence.pack",
    "sbom_image": "provcheck.api",
    "sbom_image_async": "provcheck.api",
    "summarise_async": "provcheck.vsa.run",
    "validate_schema": "provcheck.sbom.schema",
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
    "Conversion",
    "ConversionLimitError",
    "CredentialProvider",
    "Credentials",
    "DeadlineExceededError",
    "Decision",
    "Descriptor",
    "Digest",
    "DiscoveryOptions",
    "DockerCredentials",
    "DocumentError",
    "EnvelopeError",
    "Evidence",
    "Explanation",
    "FileResolver",
    "Gate",
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
    "PackInputs",
    "Platform",
    "PlatformImage",
    "PlatformNotFoundError",
    "Policy",
    "PolicyError",
    "PolicyMistakesError",
    "Problem",
    "ProblemKind",
    "ProvcheckError",
    "Recording",
    "RegistryClient",
    "RegistryConnectionError",
    "RegistryError",
    "RegistryHTTPError",
    "RegistryOptions",
    "Report",
    "ReportFormat",
    "RequestLimiter",
    "ReviewOutcome",
    "RuleResult",
    "Sbom",
    "SbomEntry",
    "SbomError",
    "SbomFormat",
    "SchemaReport",
    "SchemaVersionError",
    "SignatureCheck",
    "SignedObject",
    "SigningKey",
    "Statement",
    "StatementBuildError",
    "StatementError",
    "StaticCredentials",
    "Status",
    "Subject",
    "Summary",
    "TlogError",
    "TrustConfig",
    "TrustLevel",
    "UsableStatement",
    "UsageError",
    "Verdict",
    "VerificationError",
    "VersionUnknownError",
    "__version__",
    "attestations_from_dict",
    "attestations_to_dict",
    "collect_sboms",
    "convert_sbom",
    "dump_attestations",
    "evaluate",
    "explain_image",
    "explain_options",
    "explanation_to_dict",
    "inspect_image",
    "inspect_image_async",
    "load_attestations",
    "load_policy",
    "load_signing_key",
    "parse_policy",
    "parse_report",
    "render",
    "render_explanation",
    "report_from_dict",
    "report_to_dict",
    "save_pack",
    "sbom_image",
    "sbom_image_async",
    "summarise_async",
    "validate_schema",
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
