"""A readable summary of what ``inspect`` found.

Every string that comes from the image passes through :func:`escape_text`; the labels in
brackets are explained once, in a legend at the end, for the labels that appear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from provcheck.attestation.binding import BindingStatus
from provcheck.attestation.signatures import signer_label
from provcheck.discovery.model import (
    AttestationLayer,
    AttestationManifest,
    ImageAttestations,
    StoreRepository,
)
from provcheck.oci.digest import Digest
from provcheck.report.escape import escape_text
from provcheck.report.legend import trust_legend
from provcheck.views.document import sbom_summaries, sbom_summary

BINDING_MEANING: Final = {
    BindingStatus.BOUND: "its subject is this platform's manifest",
    BindingStatus.INDEX: "its subject is the image index (it covers every platform)",
}


def _layer_line(layer: AttestationLayer, sboms: Mapping[Digest, dict[str, Any]]) -> str:
    kind = layer.kind.value if layer.kind else "unknown"
    predicate = escape_text(
        layer.statement.predicate_type if layer.statement else layer.predicate_type_hint or "?"
    )
    if layer.usable and layer.binding is not None:
        state = f"{layer.binding.status.value}, {layer.trust.value}"
        sbom = sbom_summary(layer, sboms)
        if sbom is not None:
            detail = sbom.get("error") or (
                f"{sbom['format']} {sbom['specVersion']}, {sbom['components']} components"
            )
            state += f"; {escape_text(str(detail))}"
    elif not layer.fetched:
        state = "not fetched"
    else:
        state = "REJECTED"
    return f"    {kind:<11} {predicate}  [{state}]"


def _legend(found: ImageAttestations) -> str | None:
    """What the ``[binding, trust]`` labels shown mean, each once."""
    layers = [
        layer
        for image in found.images
        for manifest in image.attestations
        for layer in manifest.layers
        if layer.usable and layer.binding is not None
    ]
    bindings = {layer.binding.status for layer in layers if layer.binding is not None}
    parts = [f"{s.value} = {m}" for s, m in BINDING_MEANING.items() if s in bindings]
    trust = trust_legend(layer.trust.value for layer in layers)
    if trust is not None:
        parts.append(trust)
    return "; ".join(parts) or None


def _elsewhere(manifest: AttestationManifest, found: ImageAttestations) -> str:
    """`` in <repository>`` for what was found in the ``--attestations-repo``."""
    if manifest.repository is StoreRepository.IMAGE:
        return ""
    return f" in {escape_text(found.attestations_repository or manifest.repository.value)}"


def render_inspect_text(found: ImageAttestations) -> str:
    """Render ``found`` as indented text for a person."""
    platforms = ", ".join(escape_text(i.platform.key) for i in found.images) or "(none)"
    sboms = sbom_summaries(found)
    lines = [
        f"Reference:  {escape_text(found.reference)}",
        f"Source:     {escape_text(found.source)}",
        f"Digest:     {found.digest}",
        f"MediaType:  {escape_text(found.descriptor.media_type)}",
        f"Platforms:  {platforms}",
    ]
    if found.attestations_repository is not None:
        lines.append(f"Also read:  {escape_text(found.attestations_repository)}")
    for image in found.images:
        lines += ["", f"{escape_text(image.platform.key)}  {image.descriptor.digest}"]
        if not image.attestations:
            lines.append("  no attestations")
        for manifest in image.attestations:
            lines.append(
                f"  attestation manifest {manifest.descriptor.digest.short} "
                f"({manifest.form.value}, from {manifest.origin.value}"
                f"{_elsewhere(manifest, found)})"
            )
            lines.extend(_layer_line(layer, sboms) for layer in manifest.layers)
    if found.signed:
        lines += ["", "Signatures:"]
        for signed in found.signed:
            verdict = (
                f"verified by {', '.join(signer_label(k) for k in signed.check.signers)}"
                if signed.check.accepted
                else "; ".join(signed.check.messages) or "not verified"
            )
            what = signed.predicate_type or signed.kind.value
            lines.append(
                f"  {escape_text(signed.origin):<13} {escape_text(what)}  [{escape_text(verdict)}]"
            )
    problems = list(found.all_problems())
    if problems:
        lines += ["", "Problems:"]
        lines.extend(f"  {p.kind.value}: {escape_text(p.message)}" for p in problems)
    legend = _legend(found)
    if legend is not None:
        lines += ["", f"Labels:     {legend}"]
    return "\n".join(lines) + "\n"
