"""provcheck's own JSON description of what ``inspect`` found (schema ``provcheck.inspect/v1``).

The schema ships as ``provcheck/views/inspect.schema.json``; fields are only ever added within
a schema version.
"""

from __future__ import annotations

from typing import Any, Final

from provcheck.attestation.signatures import SignedObject
from provcheck.discovery.model import (
    AttestationLayer,
    AttestationManifest,
    ImageAttestations,
    PlatformImage,
    Problem,
)
from provcheck.errors import ProvcheckError
from provcheck.oci.model import Descriptor
from provcheck.predicates import PredicateKind

SCHEMA_VERSION: Final = "provcheck.inspect/v1"


def _descriptor(d: Descriptor) -> dict[str, Any]:
    return {"digest": str(d.digest), "mediaType": d.media_type, "size": d.size}


def _problem(p: Problem) -> dict[str, Any]:
    return {
        "kind": p.kind.value,
        "message": p.message,
        "digest": str(p.digest) if p.digest else None,
    }


def sbom_summary(layer: AttestationLayer) -> dict[str, Any] | None:
    """Format, spec version and component count of a usable SBOM layer, or its parse error."""
    if layer.kind is not PredicateKind.SBOM or not layer.usable or layer.statement is None:
        return None
    from provcheck.sbom import parse_sbom

    try:
        sbom = parse_sbom(layer.statement)
    except ProvcheckError as exc:
        return {"error": exc.diagnostics()}
    return {"format": sbom.format.value, "specVersion": sbom.spec_version, "components": len(sbom)}


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
            "reasons": list(layer.binding.messages),
        }
        if layer.binding
        else None,
        "usable": layer.usable,
        "trust": layer.trust.value,
        "sbom": sbom_summary(layer),
        "problems": [_problem(p) for p in layer.problems],
    }


def _signed(signed: SignedObject) -> dict[str, Any]:
    return {
        "kind": signed.kind.value,
        "origin": signed.origin,
        "location": signed.location,
        "target": signed.target,
        "predicateType": signed.predicate_type,
        "indexScoped": signed.index_scoped,
        "platforms": list(signed.platforms),
        "accepted": signed.check.accepted,
        "signers": list(signed.check.signers),
        "rejections": list(signed.check.messages),
        "tlog": signed.check.tlog.value,
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
        "signatures": [_signed(signed) for signed in found.signed],
        "problems": [_problem(p) for p in found.problems],
    }
