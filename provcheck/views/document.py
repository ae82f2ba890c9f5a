"""provcheck's own JSON description of what ``inspect`` found (schema ``provcheck.inspect/v1``).

The schema ships as ``provcheck/views/inspect.schema.json``; fields are only ever added within
a schema version.
"""

from __future__ import annotations

from typing import Any, Final

from provcheck.discovery.model import (
    AttestationLayer,
    AttestationManifest,
    ImageAttestations,
    PlatformImage,
    Problem,
)
from provcheck.oci.model import Descriptor

SCHEMA_VERSION: Final = "provcheck.inspect/v1"


def _descriptor(d: Descriptor) -> dict[str, Any]:
    return {"digest": str(d.digest), "mediaType": d.media_type, "size": d.size}


def _problem(p: Problem) -> dict[str, Any]:
    return {
        "kind": p.kind.value,
        "message": p.message,
        "digest": str(p.digest) if p.digest else None,
    }


def _layer(layer: AttestationLayer) -> dict[str, Any]:
    statement = layer.statement
    return {
        "layer": {**_descriptor(layer.descriptor), "index": layer.index},
        "predicateTypeAnnotation": layer.predicate_type_hint,
        "fetched": layer.fetched,
        "kind": layer.kind.value if layer.kind else None,
        "statementType": statement.type if statement else None,
        "predicateType": statement.predicate_type if statement else None,
        "subjects": [{"name": s.name, "digest": dict(s.digest)} for s in statement.subjects]
        if statement
        else [],
        "binding": {
            "status": layer.binding.status.value,
            "reasons": list(layer.binding.reasons),
        }
        if layer.binding
        else None,
        "usable": layer.usable,
        "trust": layer.trust.value,
        "problems": [_problem(p) for p in layer.problems],
    }


def _manifest(m: AttestationManifest) -> dict[str, Any]:
    return {
        **_descriptor(m.descriptor),
        "form": m.form.value,
        "origin": m.origin.value,
        "statements": [_layer(layer) for layer in m.layers],
        "problems": [_problem(p) for p in m.problems],
    }


def _image(image: PlatformImage) -> dict[str, Any]:
    return {
        "platform": image.platform.key,
        **_descriptor(image.descriptor),
        "attestationManifests": [_manifest(m) for m in image.attestations],
        "problems": [_problem(p) for p in image.problems],
    }


def inspect_document(found: ImageAttestations) -> dict[str, Any]:
    """The ``provcheck.inspect/v1`` document for ``found`` (deterministic: storage order)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "reference": found.reference,
        "source": found.source,
        **_descriptor(found.descriptor),
        "platforms": [image.platform.key for image in found.images],
        "images": [_image(image) for image in found.images],
        "problems": [_problem(p) for p in found.problems],
    }
