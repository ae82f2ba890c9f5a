"""Build discovery values from the real OCI layouts (until ``provcheck.api`` is wired)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from provcheck.attestation.binding import bind_statement
from provcheck.attestation.statement import parse_statement
from provcheck.discovery.model import (
    AttestationForm,
    AttestationLayer,
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
)
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, ImageIndex, ImageManifest, parse_manifest
from provcheck.oci.platform import Platform
from tests.paths import real_case


def _blob(layout: Path, digest: Digest) -> bytes:
    data = (layout / "blobs" / digest.algorithm / digest.hex).read_bytes()
    digest.verify(data)
    return data


def _config(layout: Path, manifest: ImageManifest) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(_blob(layout, manifest.config.digest))
    return config


def _attestations(
    layout: Path, index: ImageIndex, target: Descriptor, index_digest: Digest
) -> tuple[AttestationManifest, ...]:
    out = []
    for desc in index.manifests:
        ann = desc.annotations
        if ann.get(mt.REFERENCE_TYPE) != mt.ATTESTATION_MANIFEST:
            continue
        if ann.get(mt.REFERENCE_DIGEST) != str(target.digest):
            continue
        manifest = parse_manifest(_blob(layout, desc.digest), desc.media_type)
        assert isinstance(manifest, ImageManifest)
        layers = []
        for n, layer in enumerate(manifest.layers):
            if layer.media_type != mt.IN_TOTO:
                continue
            hint = layer.annotations.get(mt.PREDICATE_TYPE)
            statement = parse_statement(_blob(layout, layer.digest))
            binding = bind_statement(
                statement,
                manifest=target.digest,
                platform=target.platform,
                index=index_digest,
                predicate_type_hint=hint,
            )
            layers.append(AttestationLayer(layer, n, hint, statement, binding))
        form = AttestationForm.OCI_ARTIFACT if manifest.artifact_type else AttestationForm.LEGACY
        out.append(AttestationManifest(desc, form, AttestationOrigin.INDEX, tuple(layers)))
    return tuple(out)


@cache
def load_case(case: str) -> ImageAttestations:
    """The real case as discovery would deliver it (with image configs fetched)."""
    folder = real_case(case)
    layout = folder / "oci-layout"
    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    root = Descriptor.from_dict(top)
    reference = json.loads((folder / "descriptor-tree.json").read_text())["ref"]
    parsed = parse_manifest(_blob(layout, root.digest), root.media_type)
    images: list[PlatformImage] = []
    if isinstance(parsed, ImageIndex):
        for desc in parsed.manifests:
            if desc.annotations.get(mt.REFERENCE_TYPE) == mt.ATTESTATION_MANIFEST:
                continue
            manifest = parse_manifest(_blob(layout, desc.digest), desc.media_type)
            assert isinstance(manifest, ImageManifest)
            assert desc.platform is not None
            images.append(
                PlatformImage(
                    desc,
                    desc.platform,
                    _attestations(layout, parsed, desc, root.digest),
                    _config(layout, manifest),
                )
            )
    else:
        config = _config(layout, parsed)
        platform = Platform.from_dict(config)
        assert platform is not None
        images.append(PlatformImage(root, platform, (), config))
    return ImageAttestations(str(reference), f"oci-layout://{layout}", root, tuple(images))


def provenance_statements(case: str) -> dict[str, Any]:
    """platform key -> the Statement of each usable provenance layer."""
    from provcheck.predicates import PredicateKind

    image = load_case(case)
    return {
        pi.platform.key: next(pi.statements(PredicateKind.PROVENANCE)).statement
        for pi in image.images
        if any(True for _ in pi.statements(PredicateKind.PROVENANCE))
    }
