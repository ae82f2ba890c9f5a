"""Fill in the trust level of each evidence and result from what discovery found."""

from __future__ import annotations

import dataclasses

from provcheck.discovery.model import ImageAttestations, TrustLevel
from provcheck.report.model import Report, RuleResult

_ORDER = (TrustLevel.UNSIGNED.value, TrustLevel.INDEX_BOUND.value, TrustLevel.SIGNED.value)


def trust_by_source(image: ImageAttestations) -> dict[str, str]:
    """``<attestation manifest digest>#layers/<n>`` -> trust level, for every fetched layer."""
    out: dict[str, str] = {}
    for platform in image.images:
        for manifest in platform.attestations:
            for layer in manifest.layers:
                key = f"{manifest.descriptor.digest}#layers/{layer.index}"
                previous = out.get(key)
                if previous is None or _ORDER.index(layer.trust.value) < _ORDER.index(previous):
                    out[key] = layer.trust.value
    return out


def weakest(levels: list[str]) -> str | None:
    """The weakest of trust levels, or ``None`` for none."""
    return min(levels, key=_ORDER.index) if levels else None


def annotate_result(result: RuleResult, trust: dict[str, str]) -> RuleResult:
    """Set ``trust`` on evidence that cites an attestation, and on the result (the weakest)."""
    evidence = tuple(
        dataclasses.replace(e, trust=trust.get(e.source, e.trust)) for e in result.evidence
    )
    levels = [e.trust for e in evidence if e.trust is not None]
    return dataclasses.replace(result, evidence=evidence, trust=result.trust or weakest(levels))


def annotate_trust(report: Report, image: ImageAttestations) -> Report:
    """Return ``report`` with every attestation evidence and result carrying its trust level."""
    trust = trust_by_source(image)
    results = tuple(annotate_result(r, trust) for r in report.results)
    return dataclasses.replace(report, results=results)
