"""provcheck's own JSON description of what ``inspect`` found (schema ``provcheck.inspect/v1``).

The schema ships as ``provcheck/views/inspect.schema.json``; fields are only ever added within
a schema version. Every piece of the model is written by the helpers of
:mod:`provcheck.discovery.serialize` (the ``provcheck.attestations/v1`` document); this view
picks from their output and flattens it for people and tools (a binding's reasons and a check's
rejections as their messages), so the two documents cannot drift apart. SBOMs are read as
:mod:`provcheck.sbom.scope` reads them, each parsed once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from provcheck.discovery import serialize as wire
from provcheck.discovery.model import (
    AttestationLayer,
    AttestationManifest,
    ImageAttestations,
    PlatformImage,
)
from provcheck.predicates import PredicateKind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from provcheck.attestation.binding import Binding
    from provcheck.attestation.signatures import SignedObject
    from provcheck.oci.digest import Digest
    from provcheck.oci.model import Descriptor

SCHEMA_VERSION: Final = "provcheck.inspect/v1"


def _descriptor(d: Descriptor) -> dict[str, Any]:
    full = wire.descriptor_dict(d)
    return {"digest": full["digest"], "mediaType": full["mediaType"], "size": full["size"]}


def _binding(b: Binding) -> dict[str, Any]:
    full = wire.binding_dict(b)
    return {"status": full["status"], "reasons": [f["message"] for f in full["failures"]]}


def _is_sbom(layer: AttestationLayer) -> bool:
    return layer.kind is PredicateKind.SBOM and layer.usable


def sbom_summaries(found: ImageAttestations) -> Mapping[Digest, dict[str, Any]]:
    """Format, spec version and component count of each usable SBOM layer of ``found`` (by
    layer digest), or its parse error: ``{"error": diagnostics}``."""
    layers = (lr for i in found.images for m in i.attestations for lr in m.layers)
    if not any(_is_sbom(layer) for layer in layers):
        return {}  # the SBOM parsers are not even imported
    from provcheck.sbom.scope import scope_sboms

    out: dict[Digest, dict[str, Any]] = {}
    for platform in scope_sboms(found.images):
        for scoped in platform.own:
            sbom = scoped.sbom
            out.setdefault(
                scoped.usable.layer.descriptor.digest,
                {"error": scoped.error}
                if sbom is None
                else {
                    "format": sbom.format.value,
                    "specVersion": sbom.spec_version,
                    "components": len(sbom),
                },
            )
    return out


def sbom_summary(
    layer: AttestationLayer, summaries: Mapping[Digest, dict[str, Any]]
) -> dict[str, Any] | None:
    """The summary of ``layer`` among ``summaries`` (:func:`sbom_summaries`), or ``None`` when
    it is not a usable SBOM layer."""
    return summaries.get(layer.descriptor.digest) if _is_sbom(layer) else None


def _layer(layer: AttestationLayer, summaries: Mapping[Digest, dict[str, Any]]) -> dict[str, Any]:
    statement = layer.statement
    return {
        "layer": {**_descriptor(layer.descriptor), "index": layer.index},
        "predicateTypeAnnotation": layer.predicate_type_hint,
        "fetched": layer.fetched,
        "kind": layer.kind.value if layer.kind else None,
        "statementType": statement.type if statement else None,
        "predicateType": statement.predicate_type if statement else None,
        "subjects": wire.subject_list(statement) if statement else [],
        "binding": _binding(layer.binding) if layer.binding else None,
        "usable": layer.usable,
        "trust": layer.trust.value,
        "sbom": sbom_summary(layer, summaries),
        "problems": wire.problem_list(layer.problems),
    }


def _signed(signed: SignedObject) -> dict[str, Any]:
    full = wire.signed_dict(signed)
    check = full["check"]
    return {
        **{k: full[k] for k in ("kind", "origin", "location", "target", "predicateType")},
        "indexScoped": full["indexScoped"],
        "platforms": full["platforms"],
        "accepted": signed.check.accepted,
        "signers": check["signers"],
        "rejections": [r["message"] for r in check["rejections"]],
        "tlog": check["tlog"],
    }


def _manifest(m: AttestationManifest, summaries: Mapping[Digest, dict[str, Any]]) -> dict[str, Any]:
    return {
        **_descriptor(m.descriptor),
        "form": m.form.value,
        "origin": m.origin.value,
        "repository": m.repository.value,
        "statements": [_layer(layer, summaries) for layer in m.layers],
        "problems": wire.problem_list(m.problems),
    }


def _image(image: PlatformImage, summaries: Mapping[Digest, dict[str, Any]]) -> dict[str, Any]:
    return {
        "platform": image.platform.key,
        **_descriptor(image.descriptor),
        "attestationManifests": [_manifest(m, summaries) for m in image.attestations],
        "problems": wire.problem_list(image.problems),
    }


def inspect_document(found: ImageAttestations) -> dict[str, Any]:
    """The ``provcheck.inspect/v1`` document for ``found`` (deterministic: storage order)."""
    summaries = sbom_summaries(found)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "reference": found.reference,
        "source": found.source,
        **_descriptor(found.descriptor),
        "platforms": [image.platform.key for image in found.images],
        "images": [_image(image, summaries) for image in found.images],
        "signatures": [_signed(signed) for signed in found.signed],
        "problems": wire.problem_list(found.problems),
    } | (
        {}
        if found.attestations_repository is None
        else {"attestationsRepository": found.attestations_repository}
    )
