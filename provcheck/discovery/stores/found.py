"""Plain records of what the signature stores hold, before anything is verified or bound.

Package-internal: :mod:`.reading` fills a :class:`Found`, :mod:`.trusting` verifies and binds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from provcheck.attestation.dsse import Envelope
from provcheck.attestation.statement import Statement
from provcheck.attestation.tlog import NO_TLOG, TlogEvidence
from provcheck.discovery.model import (
    AttestationForm,
    AttestationManifest,
    AttestationOrigin,
    Problem,
    StoreLookup,
    StoreRepository,
    layer_source,
)
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.platform import Platform


class TargetRole(StrEnum):
    """What a digest whose signature stores are read is."""

    ROOT = "root"
    """The manifest or index the reference resolved to."""
    PLATFORM = "platform"
    """A platform manifest of the index."""
    ATTESTATION_MANIFEST = "attestation-manifest"
    """An attestation manifest listed in the index."""


@dataclass(frozen=True, slots=True)
class Target:
    """A digest whose signature stores are read, and what it is."""

    descriptor: Descriptor
    role: TargetRole
    platform: Platform | None = None
    """The platform of a platform manifest (also of a root that is a single manifest)."""


@dataclass(slots=True)
class StoredEnvelope:
    """A DSSE envelope found in a store, before verification."""

    origin: AttestationOrigin
    form: AttestationForm
    manifest: Descriptor
    index: int
    layer: Descriptor
    target: Target
    hint: str | None
    envelope: Envelope | None = None
    keyless: bytes | None = None
    error: str | None = None
    tlog_evidence: TlogEvidence = NO_TLOG
    """The transparency-log entries found with it (of a keyless bundle too: verified there)."""
    raw: bytes | None = None
    """The envelope bytes as stored (a cosign ``intoto`` entry hashes them)."""
    repository: StoreRepository = StoreRepository.IMAGE


@dataclass(slots=True)
class SimpleSig:
    """A simple-signing signature found in a store."""

    origin: AttestationOrigin
    manifest: Descriptor
    index: int
    target: Target
    payload: bytes
    signature: str
    tlog_evidence: TlogEvidence = NO_TLOG
    repository: StoreRepository = StoreRepository.IMAGE


@dataclass(slots=True)
class RawSbom:
    """A raw SBOM document found as a referrer, and the statement synthesised from it."""

    origin: AttestationOrigin
    manifest: Descriptor
    index: int
    layer: Descriptor
    target: Target
    statement: Statement
    repository: StoreRepository = StoreRepository.IMAGE


@dataclass(slots=True)
class Found:
    """Everything read from the stores of all targets, and the problems met reading them."""

    envelopes: list[StoredEnvelope] = field(default_factory=list)
    signatures: list[SimpleSig] = field(default_factory=list)
    raw_sboms: list[RawSbom] = field(default_factory=list)
    attestations: list[tuple[Digest, AttestationManifest]] = field(default_factory=list)
    """Unsigned in-toto attestation manifests found as referrers, by platform manifest."""
    problems: list[Problem] = field(default_factory=list)
    lookups: list[StoreLookup] = field(default_factory=list)
    """How the referrers of each target were listed (API or fallback tag)."""

    def sort(self) -> None:
        """Put everything in an order that does not depend on when responses arrived."""
        self.envelopes.sort(key=sort_key)
        self.signatures.sort(key=sort_key)
        self.raw_sboms.sort(key=sort_key)
        self.attestations.sort(
            key=lambda a: (str(a[0]), str(a[1].descriptor.digest), a[1].repository.value)
        )
        self.problems.sort(key=lambda p: (p.kind.value, p.message))
        self.lookups.sort(key=lambda x: (x.repository.value, str(x.digest)))


def base_media_type(media_type: str) -> str:
    """``application/vnd.cyclonedx+json; version=1.5`` -> ``application/vnd.cyclonedx+json``."""
    return media_type.split(";", 1)[0].strip().lower()


class StoreTag(StrEnum):
    """The tags that hold a digest's signature stores, by the suffix after ``sha256-<hex>``."""

    ATTESTATIONS = ".att"
    """cosign's attestations (``cosign attest``)."""
    SIGNATURES = ".sig"
    """cosign's simple signatures (``cosign sign``)."""
    REFERRERS = ""
    """The OCI 1.1 referrers fallback tag."""


def store_tag(digest: Digest, kind: StoreTag) -> str:
    """The tag of ``digest``'s store ``kind``: ``sha256-<hex>`` followed by its suffix."""
    return f"{digest.algorithm}-{digest.hex}{kind.value}"


def location(item: StoredEnvelope | SimpleSig | RawSbom) -> str:
    """Where ``item`` was found: ``<manifest digest>#layers/<index>``."""
    return layer_source(item.manifest.digest, item.index)


def sort_key(item: StoredEnvelope | SimpleSig | RawSbom) -> tuple[str, str]:
    """The order of found items: by location, then by repository."""
    return location(item), item.repository.value
