"""The real cases as ``verify`` sees them: discovered from their OCI layouts."""

from __future__ import annotations

from functools import cache

from provcheck.api import inspect_image
from provcheck.attestation.statement import Statement
from provcheck.discovery.model import ImageAttestations
from provcheck.discovery.options import DiscoveryOptions
from provcheck.predicates import PredicateKind
from tests.paths import real_case


@cache
def load_case(case: str) -> ImageAttestations:
    """Discover one real case from its OCI layout, with image configs (as verify does)."""
    layout = real_case(case) / "oci-layout"
    return inspect_image(f"oci-layout://{layout}:1", options=DiscoveryOptions(image_configs=True))


def provenance_statements(case: str) -> dict[str, Statement]:
    """Platform key -> the first usable provenance statement of that platform."""
    out: dict[str, Statement] = {}
    for image in load_case(case).images:
        for usable in image.statements(PredicateKind.PROVENANCE):
            out.setdefault(image.platform.key, usable.statement)
    return out


@cache
def load_case_with_stores(case: str) -> ImageAttestations:
    """One real case as the widest verification reads it: image configs, the signature stores
    beside the layout (cosign tags, referrers), and for i-cosign its key trusted."""
    from provcheck.attestation.keys import load_public_key
    from provcheck.attestation.signatures import TrustConfig

    folder = real_case(case)
    key = folder / "cosign.pub"
    trust = TrustConfig((load_public_key(key),)) if key.is_file() else None
    options = DiscoveryOptions(image_configs=True, signature_stores=True, trust=trust)
    return inspect_image(f"oci-layout://{folder / 'oci-layout'}:1", options=options)
