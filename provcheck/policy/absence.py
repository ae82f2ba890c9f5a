"""Why a platform has no usable evidence of a kind, from what discovery recorded (typed values).

:func:`absent_cause` is the cause ``verify`` names in a result; :mod:`provcheck.explain.causes`
builds on the same functions to say what applies and how to fix it.
"""

from __future__ import annotations

from provcheck.discovery.model import (
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
    ProblemKind,
    UsableStatement,
)
from provcheck.predicates import PredicateKind
from provcheck.report.causes import Cause
from provcheck.sbom.scope import applicable_statements


def statements(
    image: ImageAttestations, pi: PlatformImage, kind: PredicateKind
) -> tuple[UsableStatement, ...]:
    """The usable statements of ``kind`` describing ``pi``, as the rules read them (SBOMs bound
    to the index count for every platform)."""
    if kind is PredicateKind.SBOM:
        return applicable_statements(pi, image.images)
    return tuple(pi.statements(kind))


def in_index(pi: PlatformImage) -> bool:
    """Whether the index holds an attestation manifest for ``pi``."""
    return any(m.origin is AttestationOrigin.INDEX for m in pi.attestations)


def unbound_here(pi: PlatformImage, kind: PredicateKind) -> int:
    """Binding problems of ``pi``'s attestations that may have held ``kind``."""
    count = sum(1 for p in pi.problems if p.kind is ProblemKind.BINDING)
    for manifest in pi.attestations:
        count += sum(1 for p in manifest.problems if p.kind is ProblemKind.BINDING)
        for layer in manifest.layers:
            if layer.kind in (None, kind):
                count += sum(1 for p in layer.problems if p.kind is ProblemKind.BINDING)
    return count


def unbound_image(image: ImageAttestations) -> int:
    """Index-level binding problems and orphans (attestation manifests for manifests that are
    not in the index, statements in the stores bound to another image)."""
    return sum(1 for p in image.problems if p.kind in (ProblemKind.BINDING, ProblemKind.ORPHAN))


def absent_cause(image: ImageAttestations, pi: PlatformImage, kind: PredicateKind) -> Cause | None:
    """Why ``pi`` has no usable ``kind`` evidence (call it only then): the first that applies of
    ``unbound``, ``no-sbom`` (there is provenance), ``single-manifest``,
    ``no-attestation-manifests``, ``platform-not-attested``; ``None`` when none does (e.g. an
    attestation manifest with an SBOM only)."""
    if unbound_here(pi, kind) or (image.is_index and not in_index(pi) and unbound_image(image)):
        return Cause.UNBOUND
    if kind is PredicateKind.SBOM and any(pi.statements(PredicateKind.PROVENANCE)):
        return Cause.NO_SBOM  # wherever the provenance is: the build made no SBOM
    if not image.is_index:
        return Cause.SINGLE_MANIFEST
    if not any(in_index(other) for other in image.images):
        return Cause.NO_ATTESTATION_MANIFESTS
    if not in_index(pi):
        return Cause.PLATFORM_NOT_ATTESTED
    return None
