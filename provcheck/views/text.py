"""A readable summary of what ``inspect`` found."""

from __future__ import annotations

from provcheck.attestation.signatures import signer_label
from provcheck.discovery.model import AttestationLayer, ImageAttestations
from provcheck.views.document import sbom_summary


def _layer_line(layer: AttestationLayer) -> str:
    kind = layer.kind.value if layer.kind else "unknown"
    predicate = (
        layer.statement.predicate_type if layer.statement else layer.predicate_type_hint or "?"
    )
    if layer.usable and layer.binding is not None:
        state = f"{layer.binding.status.value}, {layer.trust.value}"
        sbom = sbom_summary(layer)
        if sbom is not None:
            detail = sbom.get("error") or (
                f"{sbom['format']} {sbom['specVersion']}, {sbom['components']} components"
            )
            state += f"; {detail}"
    elif not layer.fetched:
        state = "not fetched"
    else:
        state = "REJECTED"
    return f"    {kind:<11} {predicate}  [{state}]"


def render_inspect_text(found: ImageAttestations) -> str:
    """Render ``found`` as indented text for a person."""
    lines = [
        f"Reference:  {found.reference}",
        f"Source:     {found.source}",
        f"Digest:     {found.digest}",
        f"MediaType:  {found.descriptor.media_type}",
        f"Platforms:  {', '.join(i.platform.key for i in found.images) or '(none)'}",
    ]
    for image in found.images:
        lines += ["", f"{image.platform.key}  {image.descriptor.digest}"]
        if not image.attestations:
            lines.append("  no attestations")
        for manifest in image.attestations:
            lines.append(
                f"  attestation manifest {manifest.descriptor.digest.short} "
                f"({manifest.form.value}, from {manifest.origin.value})"
            )
            lines.extend(_layer_line(layer) for layer in manifest.layers)
    if found.signed:
        lines += ["", "Signatures:"]
        for signed in found.signed:
            verdict = (
                f"verified by {', '.join(signer_label(k) for k in signed.check.signers)}"
                if signed.check.accepted
                else "; ".join(signed.check.messages) or "not verified"
            )
            what = signed.predicate_type or signed.kind.value
            lines.append(f"  {signed.origin:<13} {what}  [{verdict}]")
    problems = list(found.all_problems())
    if problems:
        lines += ["", "Problems:"]
        lines.extend(f"  {p.kind.value}: {p.message}" for p in problems)
    return "\n".join(lines) + "\n"
