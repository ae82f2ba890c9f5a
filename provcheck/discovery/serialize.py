"""Found attestations as data both ways: ``provcheck.attestations/v1`` (schema:
``attestations.schema.json`` beside this module).

:func:`attestations_to_dict` writes everything an :class:`ImageAttestations` holds, including each
platform's image config; :func:`attestations_from_dict` reads it back to an equal object, which
the policy engine cannot tell from the original: ``evaluate`` gives the same report.

Statements parsed from bytes are stored as exactly those bytes (``statement.payload``, base64),
not as their JSON value: the bytes are what a digest or a signature was verified over, base64
keeps any encoding JSON would read (a BOM, UTF-16) byte for byte, and reading back runs the same
parser (:func:`parse_statement`) on them. Reading checks them again: against the layer digest for
a plain in-toto layer, against what the signature covers for an enveloped one (an envelope
decoded without trust material has no such digest: the envelope's own bytes are not kept), so a
document corrupted in a cache is refused, never replayed. A statement built in memory (one
synthesised around a raw SBOM document) is stored as its fields, its predicate as JSON.

A signature store's envelope (``SignedObject.envelope``) is kept as its bytes (base64,
``signed[].envelope``, at most :data:`ENVELOPE_MAX_BYTES`), so that a rule with its own keys
(``vsa``) verifies it on reloaded attestations as on found ones; documents written before it
was kept have none, and such a rule finds nothing there (fail closed).

Reading back re-verifies no signature and re-decides no trust: the document is trusted as far as
the store it comes from (a verdict cache keys it by everything that could change it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from provcheck._internal.documents import check_document, load_document
from provcheck.attestation.binding import Binding, BindingFailure, BindingReason, BindingStatus
from provcheck.attestation.signatures import (
    Rejection,
    RejectionReason,
    SignatureCheck,
    SignedKind,
    SignedObject,
    TlogStatus,
)
from provcheck.attestation.statement import Statement, Subject, parse_statement
from provcheck.discovery.model import (
    AttestationForm,
    AttestationLayer,
    AttestationManifest,
    AttestationOrigin,
    ImageAttestations,
    PlatformImage,
    Problem,
    ProblemKind,
    ReferrersAnswer,
    StoreLookup,
    StoreRepository,
    TrustLevel,
)
from provcheck.errors import DocumentError, ProvcheckError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.platform import Platform
from provcheck.report.escape import escape_surrogates
from provcheck.source.base import ATTESTATION_MAX_BYTES

SCHEMA_VERSION: Final = "provcheck.attestations/v1"
_SCHEMA: Final = "attestations.schema.json"
ENVELOPE_MAX_BYTES: Final = ATTESTATION_MAX_BYTES
"""The largest signed envelope a document may hold (the most discovery reads for one layer)."""

# ---- writing -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def platform_dict(p: Platform) -> dict[str, Any]:
    """``{"os", "architecture", "variant", "osVersion"}``."""
    return {
        "os": p.os,
        "architecture": p.architecture,
        "variant": p.variant,
        "osVersion": p.os_version,
    }


def descriptor_dict(d: Descriptor) -> dict[str, Any]:
    """Every field of ``d`` (``data`` as base64)."""
    return {
        "mediaType": d.media_type,
        "digest": str(d.digest),
        "size": d.size,
        "platform": platform_dict(d.platform) if d.platform is not None else None,
        "annotations": dict(d.annotations),
        "artifactType": d.artifact_type,
        "data": _b64(d.data) if d.data is not None else None,
    }


def problem_dict(p: Problem) -> dict[str, Any]:
    """``{"kind", "message", "digest"}``."""
    return {
        "kind": p.kind.value,
        "message": p.message,
        "digest": str(p.digest) if p.digest is not None else None,
    }


def problem_list(problems: tuple[Problem, ...]) -> list[dict[str, Any]]:
    """Each of ``problems``, in order."""
    return [problem_dict(p) for p in problems]


def subject_list(s: Statement) -> list[dict[str, Any]]:
    """The subjects of ``s``: ``[{"name", "digest": {algorithm: hex}}]``."""
    return [{"name": x.name, "digest": dict(x.digest)} for x in s.subjects]


def _statement(s: Statement) -> dict[str, Any]:
    if s.raw is not None:
        return {"payload": _b64(s.raw)}
    return {
        "type": s.type,
        "predicateType": s.predicate_type,
        "subjects": subject_list(s),
        "predicate": dict(s.predicate),
    }


def check_dict(c: SignatureCheck) -> dict[str, Any]:
    """``{"signers", "rejections": [{"reason", "message"}], "tlog", "covers"}``."""
    return {
        "signers": list(c.signers),
        "rejections": [{"reason": r.reason.value, "message": r.message} for r in c.rejections],
        "tlog": c.tlog.value,
        "covers": c.covers,
    }


def binding_dict(b: Binding) -> dict[str, Any]:
    """``{"status", "failures": [{"reason", "message"}]}``."""
    return {
        "status": b.status.value,
        "failures": [{"reason": f.reason.value, "message": f.message} for f in b.failures],
    }


def _layer(layer: AttestationLayer) -> dict[str, Any]:
    binding = layer.binding
    return {
        "descriptor": descriptor_dict(layer.descriptor),
        "index": layer.index,
        "predicateTypeHint": layer.predicate_type_hint,
        "statement": _statement(layer.statement) if layer.statement is not None else None,
        "binding": binding_dict(binding) if binding is not None else None,
        "problems": problem_list(layer.problems),
        "trust": layer.trust.value,
        "signature": check_dict(layer.signature) if layer.signature is not None else None,
    }


def _manifest(m: AttestationManifest) -> dict[str, Any]:
    return {
        "descriptor": descriptor_dict(m.descriptor),
        "form": m.form.value,
        "origin": m.origin.value,
        "layers": [_layer(x) for x in m.layers],
        "problems": problem_list(m.problems),
        "repository": m.repository.value,
    }


def _image(i: PlatformImage) -> dict[str, Any]:
    return {
        "descriptor": descriptor_dict(i.descriptor),
        "platform": platform_dict(i.platform),
        "config": dict(i.config) if i.config is not None else None,
        "attestations": [_manifest(m) for m in i.attestations],
        "problems": problem_list(i.problems),
    }


def signed_dict(s: SignedObject) -> dict[str, Any]:
    """One signature or signed attestation, its check as :func:`check_dict`."""
    return {
        "kind": s.kind.value,
        "origin": s.origin,
        "location": s.location,
        "target": s.target,
        "check": check_dict(s.check),
        "predicateType": s.predicate_type,
        "payloadDigest": s.payload_digest,
        "indexScoped": s.index_scoped,
        "platforms": list(s.platforms),
        "envelope": None if s.envelope is None else _b64(s.envelope),
    }


def lookup_dict(x: StoreLookup) -> dict[str, Any]:
    """``{"digest", "referrers", "listed", "repository"}``."""
    return {
        "digest": str(x.digest),
        "referrers": x.referrers.value,
        "listed": x.listed,
        "repository": x.repository.value,
    }


def attestations_to_dict(found: ImageAttestations) -> dict[str, Any]:
    """``found`` as JSON-ready data (a ``provcheck.attestations/v1`` document); raises nothing."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "reference": found.reference,
        "source": found.source,
        "descriptor": descriptor_dict(found.descriptor),
        "annotations": dict(found.annotations),
        "images": [_image(i) for i in found.images],
        "problems": problem_list(found.problems),
        "signed": [signed_dict(s) for s in found.signed],
        "lookups": [lookup_dict(x) for x in found.lookups],
    } | (
        {}
        if found.attestations_repository is None
        else {"attestationsRepository": found.attestations_repository}
    )


def dump_attestations(found: ImageAttestations) -> str:
    """``found`` as JSON text: compact, UTF-8 safe (lone surrogates escaped), one line; raises
    nothing."""
    text = json.dumps(attestations_to_dict(found), ensure_ascii=False, separators=(",", ":"))
    return escape_surrogates(text)


# ---- reading -------------------------------------------------------------------------------
# The schema has checked every shape and type below; what remains are the values it cannot
# check (digests, base64, enum members kept open in the schema) and the bytes.


def _platform_from(d: dict[str, Any]) -> Platform:
    return Platform(d.pop("os"), d.pop("architecture"), d.pop("variant"), d.pop("osVersion"))


def _bytes_from(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DocumentError(f"attestations: {where} is not valid base64") from exc


def _descriptor_from(d: dict[str, Any]) -> Descriptor:
    platform, data = d.pop("platform"), d.pop("data")
    return Descriptor(
        media_type=d.pop("mediaType"),
        digest=Digest.parse(d.pop("digest")),
        size=d.pop("size"),
        platform=_platform_from(dict(platform)) if platform is not None else None,
        annotations=MappingProxyType(dict(d.pop("annotations"))),
        artifact_type=d.pop("artifactType"),
        data=_bytes_from(data, "descriptor data") if data is not None else None,
    )


def _problems_from(items: list[dict[str, Any]]) -> tuple[Problem, ...]:
    return tuple(
        Problem(
            ProblemKind(p["kind"]),
            p["message"],
            Digest.parse(p["digest"]) if p["digest"] is not None else None,
        )
        for p in items
    )


def _check_from(d: dict[str, Any]) -> SignatureCheck:
    return SignatureCheck(
        signers=tuple(d.pop("signers")),
        rejections=tuple(
            Rejection(RejectionReason(r["reason"]), r["message"]) for r in d.pop("rejections")
        ),
        tlog=TlogStatus(d.pop("tlog")),
        covers=d.pop("covers"),
    )


def _statement_from(
    d: dict[str, Any], layer: Descriptor, check: SignatureCheck | None
) -> Statement:
    """The statement, re-parsed from its bytes after checking them against what they were
    verified with (the layer digest, or the signed payload digest)."""
    if "payload" not in d:
        return Statement(
            type=d.pop("type"),
            predicate_type=d.pop("predicateType"),
            subjects=tuple(
                Subject(s["name"], MappingProxyType(dict(s["digest"]))) for s in d.pop("subjects")
            ),
            predicate=d.pop("predicate"),
        )
    where = f"statement of layer {layer.digest.short}"
    raw = _bytes_from(d.pop("payload"), where)
    if layer.media_type == mt.IN_TOTO:
        expected: str | None = str(layer.digest)
        actual = f"{layer.digest.algorithm}:{hashlib.new(layer.digest.algorithm, raw).hexdigest()}"
    else:  # an envelope: its payload is what the signature covers (when it was checked)
        expected = check.covers if check is not None else None
        actual = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    if expected is not None and actual != expected:
        raise DocumentError(f"attestations: {where} does not hash to {expected}")
    try:
        return parse_statement(raw)
    except ProvcheckError as exc:
        raise DocumentError(f"attestations: {where}: {exc.diagnostics()}") from exc


def _layer_from(d: dict[str, Any]) -> AttestationLayer:
    descriptor = _descriptor_from(dict(d.pop("descriptor")))
    signature_doc, statement_doc, binding_doc = (
        d.pop("signature"),
        d.pop("statement"),
        d.pop("binding"),
    )
    signature = _check_from(dict(signature_doc)) if signature_doc is not None else None
    binding = None
    if binding_doc is not None:
        binding = Binding(
            BindingStatus(binding_doc["status"]),
            tuple(
                BindingFailure(BindingReason(f["reason"]), f["message"])
                for f in binding_doc["failures"]
            ),
        )
    return AttestationLayer(
        descriptor=descriptor,
        index=d.pop("index"),
        predicate_type_hint=d.pop("predicateTypeHint"),
        statement=_statement_from(dict(statement_doc), descriptor, signature)
        if statement_doc is not None
        else None,
        binding=binding,
        problems=_problems_from(d.pop("problems")),
        trust=TrustLevel(d.pop("trust")),
        signature=signature,
    )


def _manifest_from(d: dict[str, Any]) -> AttestationManifest:
    return AttestationManifest(
        descriptor=_descriptor_from(dict(d.pop("descriptor"))),
        form=AttestationForm(d.pop("form")),
        origin=AttestationOrigin(d.pop("origin")),
        layers=tuple(_layer_from(dict(x)) for x in d.pop("layers")),
        problems=_problems_from(d.pop("problems")),
        repository=StoreRepository(d.pop("repository", StoreRepository.IMAGE.value)),
    )


def _image_from(d: dict[str, Any]) -> PlatformImage:
    return PlatformImage(
        descriptor=_descriptor_from(dict(d.pop("descriptor"))),
        platform=_platform_from(dict(d.pop("platform"))),
        attestations=tuple(_manifest_from(dict(m)) for m in d.pop("attestations")),
        config=d.pop("config"),
        problems=_problems_from(d.pop("problems")),
    )


def _envelope_from(text: str | None) -> bytes | None:
    """A stored envelope's bytes, refused beyond :data:`ENVELOPE_MAX_BYTES` before decoding."""
    if text is None:
        return None
    too_large = f"attestations: a signed envelope is larger than {ENVELOPE_MAX_BYTES} bytes"
    if len(text) > 4 * -(-ENVELOPE_MAX_BYTES // 3):
        raise DocumentError(too_large)
    data = _bytes_from(text, "signed envelope")
    if len(data) > ENVELOPE_MAX_BYTES:
        raise DocumentError(too_large)
    return data


def _signed_from(d: dict[str, Any]) -> SignedObject:
    return SignedObject(
        kind=SignedKind(d.pop("kind")),
        origin=d.pop("origin"),
        location=d.pop("location"),
        target=d.pop("target"),
        check=_check_from(dict(d.pop("check"))),
        predicate_type=d.pop("predicateType"),
        payload_digest=d.pop("payloadDigest"),
        index_scoped=d.pop("indexScoped"),
        platforms=tuple(d.pop("platforms")),
        envelope=_envelope_from(d.pop("envelope", None)),
    )


def attestations_from_dict(data: Mapping[str, Any]) -> ImageAttestations:
    """The :class:`ImageAttestations` an :func:`attestations_to_dict` document describes
    (``data`` is not modified).

    Raises :class:`~provcheck.errors.SchemaVersionError` for another ``schemaVersion`` and
    :class:`~provcheck.errors.DocumentError` when the document does not match the schema, holds
    a malformed digest or base64, or statement bytes that do not match the digest they were
    verified against.
    """
    check_document(
        data,
        version=SCHEMA_VERSION,
        package="provcheck.discovery",
        schema=_SCHEMA,
        what="attestations",
    )
    doc = dict(data)  # the schema admits no other fields: every one is popped here
    del doc["schemaVersion"]
    try:
        return ImageAttestations(
            reference=doc.pop("reference"),
            source=doc.pop("source"),
            descriptor=_descriptor_from(dict(doc.pop("descriptor"))),
            images=tuple(_image_from(dict(i)) for i in doc.pop("images")),
            annotations=MappingProxyType(dict(doc.pop("annotations"))),
            problems=_problems_from(doc.pop("problems")),
            signed=tuple(_signed_from(dict(s)) for s in doc.pop("signed")),
            lookups=tuple(
                StoreLookup(
                    Digest.parse(x["digest"]),
                    ReferrersAnswer(x["referrers"]),
                    x["listed"],
                    StoreRepository(x["repository"]),
                )
                for x in doc.pop("lookups", ())
            ),
            attestations_repository=doc.pop("attestationsRepository", None),
        )
    except DocumentError:
        raise
    except ProvcheckError as exc:  # a malformed digest, a negative size
        raise DocumentError(f"attestations: {exc.diagnostics()}") from exc


def load_attestations(data: str | bytes) -> ImageAttestations:
    """:func:`attestations_from_dict` of JSON text (what :func:`dump_attestations` writes).

    Raises :class:`~provcheck.errors.DocumentError` (or :class:`SchemaVersionError`).
    """
    return attestations_from_dict(load_document(data, "attestations"))
