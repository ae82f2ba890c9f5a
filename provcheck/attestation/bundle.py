"""Sigstore bundles v0.1-v0.3 (formats.md §8.2): parse, and verify key-based DSSE bundles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from provcheck._internal.jsonload import load_json_object
from provcheck.attestation.dsse import Envelope, b64decode_any, envelope_from_dict
from provcheck.attestation.tlog import NO_TLOG, TlogEvidence, evidence_from_bundle
from provcheck.errors import AttestationError, EnvelopeError

BUNDLE_MEDIA_TYPES: Final = frozenset(
    {
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
    }
)
COSIGN_SIGN_PREDICATE: Final = "https://sigstore.dev/cosign/sign/v1"


@dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed bundle. Exactly one of ``envelope`` / ``message_signature`` is set.

    ``key_hint``: ``publicKey.hint`` (key-based). ``certificate``: the leaf DER (keyless).
    ``tlog_entries``: how many transparency-log entries it carries, ``tlog`` those entries
    parsed (checked later, against the trusted root). ``raw``: the bytes parsed.
    """

    media_type: str
    envelope: Envelope | None
    message_signature: bytes | None
    key_hint: str | None
    certificate: bytes | None
    tlog_entries: int
    raw: bytes
    tlog: TlogEvidence = NO_TLOG


def _optional_object(parent: dict[str, object], key: str) -> dict[str, object]:
    """``parent[key]``: an object, or ``{}`` when absent. Raises :class:`AttestationError`."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AttestationError(f"bundle verificationMaterial.{key} is not an object")
    return value


def _decode(text: str, what: str) -> bytes:
    try:
        return b64decode_any(text, f"bundle {what}")
    except EnvelopeError as exc:
        raise AttestationError(exc.diagnostics()) from exc


def _raw_bytes(item: dict[str, object], what: str) -> bytes:
    """The DER of a certificate object's ``rawBytes``. Raises :class:`AttestationError`."""
    raw = item.get("rawBytes")
    if not isinstance(raw, str) or not raw:
        raise AttestationError(f"bundle {what}.rawBytes is not base64 text")
    return _decode(raw, f"{what}.rawBytes")


def parse_bundle(data: bytes) -> Bundle:
    """Parse a sigstore bundle. Raises :class:`AttestationError` when malformed or unknown."""
    doc = load_json_object(data, "sigstore bundle", AttestationError)
    media_type = doc.get("mediaType")
    if not isinstance(media_type, str) or media_type not in BUNDLE_MEDIA_TYPES:
        raise AttestationError(f"unsupported sigstore bundle mediaType {str(media_type)[:100]!r}")
    material = doc.get("verificationMaterial")
    if not isinstance(material, dict):
        raise AttestationError("sigstore bundle has no verificationMaterial")
    hint = _optional_object(material, "publicKey").get("hint")
    cert: bytes | None = None
    if "certificate" in material:
        cert = _raw_bytes(_optional_object(material, "certificate"), "certificate")
    elif "x509CertificateChain" in material:
        chain = _optional_object(material, "x509CertificateChain").get("certificates")
        if not isinstance(chain, list) or not chain or not isinstance(chain[0], dict):
            raise AttestationError("bundle x509CertificateChain.certificates is not a list")
        cert = _raw_bytes(chain[0], "x509CertificateChain.certificates[0]")
    tlog = material.get("tlogEntries") or []
    envelope: Envelope | None = None
    message: bytes | None = None
    if "dsseEnvelope" in doc:
        try:
            envelope = envelope_from_dict(doc["dsseEnvelope"], "bundle dsseEnvelope")
        except EnvelopeError as exc:
            raise AttestationError(exc.diagnostics()) from exc
        if len(envelope.signatures) != 1:
            raise AttestationError("a sigstore bundle's DSSE envelope must have one signature")
    elif isinstance(doc.get("messageSignature"), dict):
        signature = doc["messageSignature"].get("signature")
        if not isinstance(signature, str):
            raise AttestationError("bundle messageSignature.signature is not base64 text")
        message = _decode(signature, "messageSignature.signature")
    else:
        raise AttestationError("sigstore bundle has neither dsseEnvelope nor messageSignature")
    return Bundle(
        str(media_type),
        envelope,
        message,
        str(hint) if isinstance(hint, str) else None,
        cert,
        len(tlog) if isinstance(tlog, list) else 0,
        data,
        evidence_from_bundle(tlog),
    )
