"""The documents ``docker buildx imagetools inspect`` prints for ``{{json .Provenance}}`` and
``{{json .SBOM}}``, built from verified and bound statements only.

buildx's selection rules (formats.md §3.1): per platform, walk the attestation manifests in index
order; provenance is the first layer whose predicate type starts with
``https://slsa.dev/provenance/`` in each manifest, a later manifest replacing an earlier one;
SBOMs are every ``https://spdx.dev/Document`` layer, the first as ``SPDX`` and the rest as
``AdditionalSPDXs``. One platform key prints the bare shape, several print a map keyed by
``os/arch[/variant]``. Unlike buildx, statements that are unbound, tampered or mislabelled
never appear here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from provcheck.discovery.model import (
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
)
from provcheck.predicates import SLSA_PROVENANCE_PREFIX, SPDX_DOCUMENT
from provcheck.views.gojson import GoStruct


def _in_index(image: PlatformImage) -> list[AttestationManifest]:
    """buildx reads only the attestation manifests listed in the index."""
    return [m for m in image.attestations if m.origin is AttestationOrigin.INDEX]


def _provenance(image: PlatformImage) -> dict[str, Any]:
    chosen: Any = None
    for manifest in _in_index(image):
        for layer in manifest.layers:
            statement = layer.statement
            if (
                layer.usable
                and statement is not None
                and statement.predicate_type.startswith(SLSA_PROVENANCE_PREFIX)
            ):
                chosen = statement.predicate
                break
    return GoStruct() if chosen is None else GoStruct(SLSA=chosen)


def _sbom(image: PlatformImage) -> dict[str, Any]:
    documents = [
        layer.statement.predicate
        for manifest in _in_index(image)
        for layer in manifest.layers
        if layer.usable
        and layer.statement is not None
        and layer.statement.predicate_type == SPDX_DOCUMENT
    ]
    out = GoStruct()  # buildx's SBOM struct: SPDX, then AdditionalSPDXs
    if documents:
        out["SPDX"] = documents[0]
    if len(documents) > 1:
        out["AdditionalSPDXs"] = documents[1:]
    return out


def _document(
    found: ImageAttestations, per_image: Callable[[PlatformImage], dict[str, Any]]
) -> dict[str, Any]:
    keys = {image.platform.key for image in found.images}
    if len(keys) <= 1:
        return per_image(found.images[0]) if found.images else {}
    out: dict[str, Any] = {}
    for image in found.images:
        value = per_image(image)
        if value:
            out[image.platform.key] = value
    return out


def provenance_document(found: ImageAttestations) -> dict[str, Any]:
    """The value buildx prints for ``{{json .Provenance}}``."""
    return _document(found, _provenance)


def sbom_document(found: ImageAttestations) -> dict[str, Any]:
    """The value buildx prints for ``{{json .SBOM}}``."""
    return _document(found, _sbom)
