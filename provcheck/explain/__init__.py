"""``provcheck explain``: for each platform, what evidence exists, where it was found, what is
missing and why (a :class:`~provcheck.report.causes.Cause` with a sentence and the fix).

:func:`explain_image` builds an :class:`Explanation` from what discovery found (read with
:data:`EXPLAIN_OPTIONS`: everything, the stores included); :mod:`.render` writes it as text or
as a ``provcheck.explain/v1`` document. Explaining is not a verdict: missing evidence is data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from provcheck.attestation.statement import Statement
from provcheck.discovery.model import (
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
    Problem,
    ProblemKind,
    StoreLookup,
    StoreRepository,
    TrustLevel,
    layer_source,
)
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.select import known_platforms, require_platforms
from provcheck.errors import ProvcheckError
from provcheck.explain.causes import (
    EVIDENCE,
    Finding,
    index_findings,
    platform_findings,
)
from provcheck.oci.digest import Digest
from provcheck.policy.absence import statements
from provcheck.predicates import PredicateKind
from provcheck.predicates.slsa import parse_provenance
from provcheck.sbom.scope import index_scoped

if TYPE_CHECKING:
    from provcheck.attestation.signatures import TrustConfig
    from provcheck.oci.reference import ImageReference
    from provcheck.policy.model import Policy

EXPLAIN_OPTIONS: Final = DiscoveryOptions(
    kinds=frozenset(PredicateKind), image_configs=False, signature_stores=True
)
"""What explain reads: every kind of statement, the index and every store outside it."""


def explain_options(
    trust: TrustConfig | None, *, attestations_repository: ImageReference | None = None
) -> DiscoveryOptions:
    """:data:`EXPLAIN_OPTIONS` deciding trust with ``trust`` (see :func:`policy_trust`) and also
    reading ``attestations_repository`` (``--attestations-repo``), for
    :func:`~provcheck.api.inspect_image_async` before :func:`explain_image`. Raises nothing."""
    return DiscoveryOptions(
        kinds=EXPLAIN_OPTIONS.kinds,
        image_configs=False,
        signature_stores=True,
        trust=trust,
        image_signatures=trust is not None,
        attestations_repository=attestations_repository,
    )


def policy_trust(policy: Policy) -> TrustConfig | None:
    """The trust of ``policy``'s signatures rule (its keys and identities), or ``None`` when it
    names none: what decides which signed statements explain calls ``signed``."""
    from provcheck.policy.model import SignaturesOptions

    signatures = policy.rules.get("signatures")
    if isinstance(signatures, SignaturesOptions) and (signatures.keys or signatures.identities):
        return signatures.trust()
    return None


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One usable statement describing a platform, and where it was found."""

    kind: PredicateKind
    predicate_type: str
    origin: AttestationOrigin
    repository: StoreRepository
    manifest: Digest
    """The attestation manifest that holds it."""
    layer: int
    """Its position among the manifest's layers."""
    trust: TrustLevel
    bound_to_index: bool
    """True when its subject is the index (it covers every platform)."""
    detail: str | None = None
    """``SLSA v1, max mode`` for provenance; ``None`` otherwise."""

    @property
    def source(self) -> str:
        """``<attestation manifest digest>#layers/<n>``, as a report's evidence names it."""
        return layer_source(self.manifest, self.layer)


@dataclass(frozen=True, slots=True)
class PlatformExplanation:
    """What one platform has, lacks, and why."""

    platform: str
    digest: Digest
    evidence: tuple[EvidenceItem, ...]
    missing: tuple[PredicateKind, ...]
    """The kinds of BuildKit evidence (provenance, SBOM) with no usable statement."""
    causes: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    """The explanation of one image."""

    reference: str
    digest: Digest
    media_type: str
    platforms: tuple[PlatformExplanation, ...]
    causes: tuple[Finding, ...]
    """Causes about the image as a whole."""
    notes: tuple[Finding, ...]
    """Facts about the image that explain nothing missing (``registry-no-referrers`` when no
    evidence is missing and no fallback tag held anything)."""
    lookups: tuple[StoreLookup, ...]
    problems: tuple[Problem, ...]
    min_trust: Mapping[PredicateKind, TrustLevel]
    """The policy's ``min-trust`` per kind (empty without ``--policy``)."""

    @property
    def unreadable(self) -> bool:
        """True when some evidence could not be read (fetch, integrity, size, malformed), so
        the explanation may miss what is there; content bound to another image is not that."""
        return any(
            p.kind.voids_evidence and p.kind is not ProblemKind.BINDING for p in self.problems
        )


def min_trust_by_kind(policy: Policy) -> dict[PredicateKind, TrustLevel]:
    """The strongest ``min-trust`` of the policy's rules reading each kind of evidence."""
    from provcheck.policy.model import EVIDENCE_KINDS

    out: dict[PredicateKind, TrustLevel] = {}
    for name, level in policy.min_trust.items():
        kind = EVIDENCE_KINDS.get(name)
        if kind is not None and (kind not in out or level.rank > out[kind].rank):
            out[kind] = level
    return out


def _detail(kind: PredicateKind, statement: Statement) -> str | None:
    if kind is not PredicateKind.PROVENANCE:
        return None
    try:
        p = parse_provenance(statement)
    except ProvcheckError:
        return "unreadable"
    return f"SLSA {p.version}, {'max' if p.max_mode else 'min'} mode"


def _platform(
    image: ImageAttestations, pi: PlatformImage, min_trust: Mapping[PredicateKind, TrustLevel]
) -> PlatformExplanation:
    items: list[EvidenceItem] = []
    missing: list[PredicateKind] = []
    for kind in (*EVIDENCE, PredicateKind.OTHER):
        found = statements(image, pi, kind)
        if not found and kind in EVIDENCE:
            missing.append(kind)
        items.extend(
            EvidenceItem(
                kind,
                u.statement.predicate_type,
                u.manifest.origin,
                u.manifest.repository,
                u.manifest.descriptor.digest,
                u.layer.index,
                u.layer.trust,
                index_scoped(u),
                _detail(kind, u.statement),
            )
            for u in found
        )
    return PlatformExplanation(
        pi.platform.key,
        pi.descriptor.digest,
        tuple(items),
        tuple(missing),
        platform_findings(image, pi, min_trust),
    )


def explain_image(
    image: ImageAttestations,
    *,
    policy: Policy | None = None,
    platforms: frozenset[str] = frozenset(),
) -> Explanation:
    """Explain ``image`` (discovered with :func:`explain_options`, every platform read).

    ``policy`` adds ``below-trust`` for its ``min-trust``; ``platforms`` narrows the platforms
    shown (the causes still see the whole index). Raises :class:`PlatformNotFoundError` when
    one of ``platforms`` is not in the image.
    """
    require_platforms(image.reference, known_platforms(image), platforms)
    min_trust = min_trust_by_kind(policy) if policy is not None else {}
    shown = [
        pi
        for pi in image.images
        if not pi.platform.is_unknown and (not platforms or pi.platform.key in platforms)
    ]
    causes, notes = index_findings(image)
    return Explanation(
        reference=image.reference,
        digest=image.digest,
        media_type=image.descriptor.media_type,
        platforms=tuple(_platform(image, pi, min_trust) for pi in shown),
        causes=causes,
        notes=notes,
        lookups=image.lookups,
        problems=tuple(image.all_problems()),
        min_trust=min_trust,
    )


__all__ = [
    "EXPLAIN_OPTIONS",
    "EvidenceItem",
    "Explanation",
    "PlatformExplanation",
    "explain_image",
    "explain_options",
    "min_trust_by_kind",
    "policy_trust",
]
