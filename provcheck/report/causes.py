"""Why evidence is missing: the cause codes that ``explain`` reports and ``verify`` results name.

A leaf module (no imports): the report model and its readers use the codes without loading
discovery. :mod:`provcheck.policy.absence` and :mod:`provcheck.explain.causes` decide which apply
to an image.
"""

from __future__ import annotations

from enum import StrEnum


class Cause(StrEnum):
    """Why an attestation is missing, degraded or found outside the index."""

    SINGLE_MANIFEST = "single-manifest"
    """The tag is one image manifest, not an index: nowhere to keep in-index attestations."""
    NO_ATTESTATION_MANIFESTS = "no-attestation-manifests"
    """The index holds no attestation manifest at all."""
    PLATFORM_NOT_ATTESTED = "platform-not-attested"
    """The index has attestation manifests, but none for this platform."""
    MIN_MODE = "min-mode"
    """Provenance exists, but in min mode: build arguments and secrets were stripped."""
    NO_SBOM = "no-sbom"
    """Provenance exists, but no SBOM."""
    UNBOUND = "unbound"
    """An attestation is present but bound to another manifest than this one."""
    BELOW_TRUST = "below-trust"
    """Attestations exist, but below the policy's ``min-trust``."""
    STORED_ELSEWHERE = "stored-elsewhere"
    """Not in the index, but found in cosign tags, referrers or the attestations repository."""
    REGISTRY_NO_REFERRERS = "registry-no-referrers"
    """The referrers API is not served, so the ``sha256-<hex>`` fallback tag was read."""

    @property
    def explains_absence(self) -> bool:
        """True when the code says why evidence is absent (or unusable at the level asked),
        False when it describes evidence that is there (degraded, or stored elsewhere) or where
        provcheck looked."""
        return self not in (Cause.MIN_MODE, Cause.STORED_ELSEWHERE, Cause.REGISTRY_NO_REFERRERS)
