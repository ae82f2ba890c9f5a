"""Fill in the trust level of each evidence and result from what discovery found."""

from __future__ import annotations

import dataclasses

from provcheck.discovery.model import ImageAttestations, TrustLevel, layer_source
from provcheck.report.model import Report, RuleResult


def trust_by_source(image: ImageAttestations) -> dict[str, TrustLevel]:
    """``<attestation manifest digest>#layers/<n>`` -> the weakest trust level of that layer
    (one layer may be reached from several platforms), for every fetched layer."""
    out: dict[str, TrustLevel] = {}
    for platform in image.images:
        for manifest in platform.attestations:
            for layer in manifest.layers:
                key = layer_source(manifest.descriptor.digest, layer.index)
                out[key] = min(out.get(key, layer.trust), layer.trust, key=lambda t: t.rank)
    return out


def annotate_result(result: RuleResult, trust: dict[str, TrustLevel]) -> RuleResult:
    """Set ``trust`` on evidence that cites an attestation, and on the result (the weakest)."""
    evidence = tuple(
        dataclasses.replace(e, trust=_value(trust.get(e.source)) or e.trust)
        for e in result.evidence
    )
    weakest = TrustLevel.weakest(TrustLevel(e.trust) for e in evidence if e.trust is not None)
    return dataclasses.replace(result, evidence=evidence, trust=result.trust or _value(weakest))


def _value(level: TrustLevel | None) -> str | None:
    return level.value if level is not None else None


def annotate_trust(report: Report, image: ImageAttestations) -> Report:
    """Return ``report`` with every attestation evidence and result carrying its trust level."""
    trust = trust_by_source(image)
    results = tuple(annotate_result(r, trust) for r in report.results)
    return dataclasses.replace(report, results=results)
