"""What discovery found: immutable values, plain data for callers and renderers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from provcheck.attestation.binding import Binding
from provcheck.attestation.signatures import SignatureCheck, SignedObject
from provcheck.attestation.statement import Statement
from provcheck.oci.digest import Digest
from provcheck.oci.mediatypes import INDEX_TYPES
from provcheck.oci.model import Descriptor
from provcheck.oci.platform import Platform
from provcheck.predicates import PredicateKind, predicate_kind


class ProblemKind(StrEnum):
    """Why something found could not be used."""

    INTEGRITY = "integrity"
    """Bytes did not match their descriptor's digest or size."""
    BINDING = "binding"
    """An attestation is bound to other content than the one it was found for."""
    MISSING = "missing"
    """Content that a descriptor names could not be found."""
    MALFORMED = "malformed"
    """Content is not what its media type says (bad JSON, not a statement, …)."""
    TOO_LARGE = "too-large"
    """Content is over the configured size cap."""
    ORPHAN = "orphan"
    """An attestation manifest names a manifest that is not in the index."""
    SUSPICIOUS = "suspicious"
    """Non-standard storage that tools disagree on (e.g. annotations on a Docker list)."""
    FETCH = "fetch"
    """The registry could not be read (network, HTTP error)."""
    SIGNATURE = "signature"
    """A signature or signed envelope was rejected (untrusted key, tampered, wrong type)."""

    @property
    def rejects(self) -> bool:
        """True when content was refused, so the evidence is not all there."""
        return self not in (ProblemKind.SUSPICIOUS, ProblemKind.ORPHAN)

    @property
    def voids_evidence(self) -> bool:
        """True when evidence was there but cannot be used: tampered, unreadable, missing,
        malformed or bound to other content. A verdict that could depend on it is a
        verification error (exit 3), never a pass or a violation. A rejected signature is not:
        the ``signatures`` rule judges those."""
        return self in (
            ProblemKind.INTEGRITY,
            ProblemKind.FETCH,
            ProblemKind.TOO_LARGE,
            ProblemKind.MISSING,
            ProblemKind.MALFORMED,
            ProblemKind.BINDING,
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found while discovering, always reported and never silently ignored."""

    kind: ProblemKind
    message: str
    digest: Digest | None = None


class AttestationForm(StrEnum):
    """How an attestation manifest holds its statements."""

    LEGACY = "legacy"
    """Image-config-shaped manifest (BuildKit <= 0.31 default)."""
    OCI_ARTIFACT = "oci-artifact"
    """``artifactType`` + empty config + ``subject`` (BuildKit >= 0.32 default)."""
    COSIGN = "cosign"
    """cosign's DSSE-envelope manifest (``.att`` tag): one envelope per layer."""
    SIGSTORE_BUNDLE = "sigstore-bundle"
    """A sigstore bundle referrer holding a DSSE envelope."""
    OCI_ARTIFACT_SBOM = "oci-artifact-sbom"
    """A raw SPDX or CycloneDX JSON document pushed as a referrer (``oras attach``); its
    statement is synthesised from the document and the referrer manifest's ``subject``."""


class AttestationOrigin(StrEnum):
    """Where an attestation manifest was discovered."""

    INDEX = "index"
    """Listed in the image index (BuildKit's in-band attestations)."""
    REFERRERS = "referrers"
    """Returned by the OCI 1.1 referrers API."""
    REFERRERS_TAG = "referrers-tag"
    """Listed in the ``sha256-<hex>`` referrers fallback tag."""
    COSIGN_TAG = "cosign-tag"
    """cosign's legacy ``sha256-<hex>.att`` / ``.sig`` tags."""


class StoreRepository(StrEnum):
    """Which repository a signature store (cosign tags, referrers) was read from."""

    IMAGE = "image"
    """The image's own repository (index content is always from there)."""
    ATTESTATIONS_REPO = "attestations-repo"
    """The repository named by ``--attestations-repo`` / ``COSIGN_REPOSITORY``."""


class ReferrersAnswer(StrEnum):
    """How the referrers of a digest were listed."""

    API = "api"
    """The OCI 1.1 referrers API answered."""
    FALLBACK_TAG = "fallback-tag"
    """The API is not served (404 and the like; an OCI layout has none): the ``sha256-<hex>``
    fallback tag was read instead."""


@dataclass(frozen=True, slots=True)
class StoreLookup:
    """What listing the referrers of one digest gave (one per digest and repository read)."""

    digest: Digest
    referrers: ReferrersAnswer
    listed: int | None
    """Descriptors listed (by the API or the fallback tag); ``None``: there is no fallback tag
    (or it is not an index)."""
    repository: StoreRepository = StoreRepository.IMAGE


class TrustLevel(StrEnum):
    """How far an attestation can be trusted. The ordering is :data:`TRUST_ORDER`, defined
    once; compare with :attr:`rank`, :meth:`at_least` and :meth:`weakest`, never on values."""

    SIGNED = "signed"
    """A signature by a trusted key or identity was verified over exactly this statement."""
    INDEX_BOUND = "index-bound"
    """Unsigned, but reached from a digest the user pinned (or from signed content)."""
    UNSIGNED = "unsigned"
    """Trust is whoever can push the tag."""

    @property
    def rank(self) -> int:
        """0 for the weakest level; a stronger level has a higher rank."""
        return TRUST_ORDER.index(self)

    def at_least(self, minimum: TrustLevel) -> bool:
        """True when this level is ``minimum`` or stronger."""
        return self.rank >= minimum.rank

    @staticmethod
    def weakest(levels: Iterable[TrustLevel]) -> TrustLevel | None:
        """The weakest of ``levels``, or ``None`` for none."""
        return min(levels, key=lambda level: level.rank, default=None)


TRUST_ORDER: Final[tuple[TrustLevel, ...]] = (
    TrustLevel.UNSIGNED,
    TrustLevel.INDEX_BOUND,
    TrustLevel.SIGNED,
)
"""Every trust level, weakest first: the one definition of their ordering."""


@dataclass(frozen=True, slots=True)
class AttestationLayer:
    """One in-toto layer of an attestation manifest.

    ``statement`` is ``None`` when the layer was not fetched (no caller needed its predicate
    kind) or could not be used (see ``problems``).
    """

    descriptor: Descriptor
    index: int
    predicate_type_hint: str | None
    statement: Statement | None = None
    binding: Binding | None = None
    problems: tuple[Problem, ...] = ()
    trust: TrustLevel = TrustLevel.UNSIGNED
    signature: SignatureCheck | None = None
    """The signature verification of a signed layer (``None`` for an unsigned statement)."""

    @property
    def fetched(self) -> bool:
        """True when the layer was downloaded (successfully or not)."""
        return self.statement is not None or bool(self.problems)

    @property
    def usable(self) -> bool:
        """True when the statement was fetched, verified, parsed and bound."""
        return (
            self.statement is not None
            and self.binding is not None
            and self.binding.usable
            and not self.problems
        )

    @property
    def kind(self) -> PredicateKind | None:
        """The predicate kind, from the statement when fetched, else from the hint."""
        if self.statement is not None:
            return predicate_kind(self.statement.predicate_type)
        return predicate_kind(self.predicate_type_hint) if self.predicate_type_hint else None


@dataclass(frozen=True, slots=True)
class AttestationManifest:
    """An attestation manifest and its layers."""

    descriptor: Descriptor
    form: AttestationForm
    origin: AttestationOrigin
    layers: tuple[AttestationLayer, ...] = ()
    problems: tuple[Problem, ...] = ()
    repository: StoreRepository = StoreRepository.IMAGE
    """Where a manifest found in a signature store was read (index content: ``image``)."""


def layer_source(manifest: Digest, index: int) -> str:
    """``<attestation manifest digest>#layers/<index>``: how evidence, trust and explanations
    name one attestation layer (they are matched by it)."""
    return f"{manifest}#layers/{index}"


@dataclass(frozen=True, slots=True)
class UsableStatement:
    """A statement that may be used as evidence, with where it came from."""

    statement: Statement
    manifest: AttestationManifest
    layer: AttestationLayer

    @property
    def source(self) -> str:
        """``<attestation manifest digest>#layers/<n>``: the attestation an evidence cites."""
        return layer_source(self.manifest.descriptor.digest, self.layer.index)


@dataclass(frozen=True, slots=True)
class PlatformImage:
    """One platform image of the resolved reference and the attestations bound to it."""

    descriptor: Descriptor
    platform: Platform
    attestations: tuple[AttestationManifest, ...] = ()
    config: Mapping[str, Any] | None = field(default=None, hash=False)
    problems: tuple[Problem, ...] = ()

    def statements(self, kind: PredicateKind | None = None) -> Iterator[UsableStatement]:
        """Usable statements of this platform (optionally of one kind), in storage order."""
        for manifest in self.attestations:
            for layer in manifest.layers:
                if layer.usable and (kind is None or layer.kind == kind):
                    assert layer.statement is not None
                    yield UsableStatement(layer.statement, manifest, layer)

    def all_problems(self) -> Iterator[Problem]:
        """Problems of the image, its attestation manifests and their layers."""
        yield from self.problems
        for manifest in self.attestations:
            yield from manifest.problems
            for layer in manifest.layers:
                yield from layer.problems


@dataclass(frozen=True, slots=True)
class ImageAttestations:
    """Everything discovered for one reference, pinned to the digest that was resolved."""

    reference: str
    source: str
    descriptor: Descriptor
    images: tuple[PlatformImage, ...]
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    problems: tuple[Problem, ...] = ()
    signed: tuple[SignedObject, ...] = ()
    """Every signature and signed attestation found in signature stores, accepted or not."""
    others: tuple[PlatformImage, ...] = ()
    """The platform images that ``DiscoveryOptions.platforms`` left out, in index order: their
    descriptor and platform only, nothing of them read (statements may still bind to them)."""
    lookups: tuple[StoreLookup, ...] = ()
    """How the referrers of each digest whose stores were read were listed, sorted."""
    attestations_repository: str | None = None
    """``registry/repository`` whose signature stores were read too (``--attestations-repo``);
    what was found there has :attr:`AttestationManifest.repository`
    :attr:`StoreRepository.ATTESTATIONS_REPO`."""

    @property
    def digest(self) -> Digest:
        """The digest the reference resolved to (the trust root for unsigned attestations)."""
        return self.descriptor.digest

    @property
    def is_index(self) -> bool:
        """True when the reference resolved to an index or manifest list."""
        return self.descriptor.media_type in INDEX_TYPES

    def all_problems(self) -> Iterator[Problem]:
        """Every problem, index-level first, then per image."""
        yield from self.problems
        for image in self.images:
            yield from image.all_problems()
