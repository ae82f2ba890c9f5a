"""Sigstore bundles v0.1-v0.3 (formats.md §8.2): parse, and verify key-based DSSE bundles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from provcheck.attestation.dsse import Envelope, EnvelopeError, b64decode_any, envelope_from_dict
from provcheck.attestation.tlog import NO_TLOG, TlogEvidence, evidence_from_bundle
from provcheck.errors import AttestationError

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


def parse_bundle(data: bytes) -> Bundle:
    """Parse a sigstore bundle. Raises :class:`AttestationError` when malformed or unknown."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AttestationError(f"sigstore bundle is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise AttestationError("sigstore bundle is not a JSON object")
    media_type = doc.get("mediaType")
    if media_type not in BUNDLE_MEDIA_TYPES:
        raise AttestationError(f"unsupported sigstore bundle mediaType {str(media_type)[:100]!r}")
    material = doc.get("verificationMaterial")
    if not isinstance(material, dict):
        raise AttestationError("sigstore bundle has no verificationMaterial")
    hint = material.get("publicKey", {}).get("hint") if "publicKey" in material else None
    cert: bytes | None = None
    if isinstance(material.get("certificate"), dict):
        cert = b64decode_any(str(material["certificate"].get("rawBytes", "")), "certificate")
    elif isinstance(material.get("x509CertificateChain"), dict):
        chain = material["x509CertificateChain"].get("certificates") or [{}]
        cert = b64decode_any(str(chain[0].get("rawBytes", "")), "certificate")
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
        message = b64decode_any(str(doc["messageSignature"].get("signature", "")), "signature")
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
