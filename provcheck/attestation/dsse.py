"""DSSE envelopes (formats.md §5.2): parse, rebuild the PAE, verify signatures by trusted keys.

The verified payload is returned as bytes; callers parse exactly those bytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from provcheck._internal.jsonload import load_json
from provcheck.attestation.keys import PublicKey
from provcheck.attestation.signatures import threshold_rejection
from provcheck.errors import EnvelopeError, VerificationError

IN_TOTO_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
MAX_SIGNATURES: Final = 32


def b64decode_any(text: str, what: str = "base64 text") -> bytes:
    """Decode standard or URL-safe base64, padded or not. Raises :class:`EnvelopeError`."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"{what} is not valid base64") from exc


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding; lengths are byte counts of the UTF-8 type and body."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


@dataclass(frozen=True, slots=True)
class EnvelopeSignature:
    """One signature: the unauthenticated ``keyid`` hint and the decoded signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed DSSE envelope; ``payload`` is the decoded payload bytes."""

    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]


def envelope_from_dict(doc: object, where: str = "DSSE envelope") -> Envelope:
    """Build an :class:`Envelope` from decoded JSON; unknown fields are ignored.

    Raises :class:`EnvelopeError` when a field is missing or malformed.
    """
    if not isinstance(doc, dict):
        raise EnvelopeError(f"{where} is not a JSON object")
    payload_type, payload, signatures = (
        doc.get("payloadType"),
        doc.get("payload"),
        doc.get("signatures"),
    )
    if not isinstance(payload_type, str):
        raise EnvelopeError(f"{where} has no payloadType")
    if not isinstance(payload, str):
        raise EnvelopeError(f"{where} has no payload")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError(f"{where} has no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise EnvelopeError(f"{where} has more than {MAX_SIGNATURES} signatures")
    parsed = []
    for i, raw in enumerate(signatures):
        if not isinstance(raw, dict) or not isinstance(raw.get("sig"), str):
            raise EnvelopeError(f"{where} signatures[{i}] has no sig")
        keyid = raw.get("keyid") or ""
        if not isinstance(keyid, str):
            raise EnvelopeError(f"{where} signatures[{i}].keyid is not a string")
        parsed.append(EnvelopeSignature(keyid, b64decode_any(raw["sig"], f"{where} signature")))
    return Envelope(payload_type, b64decode_any(payload, f"{where} payload"), tuple(parsed))


def parse_envelope(data: bytes) -> Envelope:
    """Parse DSSE envelope JSON bytes. Raises :class:`EnvelopeError`."""
    return envelope_from_dict(load_json(data, "DSSE envelope", EnvelopeError))


@dataclass(frozen=True, slots=True)
class EnvelopeCheck:
    """Which trusted keys verified an envelope, and why each signature was rejected."""

    key_ids: tuple[str, ...]
    rejections: tuple[str, ...]


def check_envelope(envelope: Envelope, keys: Iterable[PublicKey]) -> EnvelopeCheck:
    """Verify every signature against every trusted key over the rebuilt PAE (never raises).

    The ``keyid`` hints are ignored: each signature is tried with each key. A key is counted once
    however many of its signatures verify.
    """
    message = pae(envelope.payload_type, envelope.payload)
    trusted = list(keys)
    verified: list[str] = []
    rejections: list[str] = []
    for i, signature in enumerate(envelope.signatures):
        hit = None
        for key in trusted:
            try:
                key.verify(signature.sig, message)
            except VerificationError:
                continue
            hit = key
            break
        if hit is None:
            rejections.append(
                f"signature {i} does not verify under any of the {len(trusted)} trusted key(s)"
                if trusted
                else f"signature {i} not checked: no trusted key"
            )
        elif hit.key_id not in verified:
            verified.append(hit.key_id)
    return EnvelopeCheck(tuple(verified), tuple(rejections))


def verify_envelope(
    envelope: Envelope,
    keys: Iterable[PublicKey],
    *,
    threshold: int = 1,
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
) -> bytes:
    """Return the payload once ``threshold`` distinct trusted keys have signed it (one envelope
    on its own; :class:`provcheck.attestation.verify.SignerPool` counts across envelopes).

    Raises :class:`VerificationError` for a threshold below 1, an unexpected payload type, or
    fewer distinct verifying keys than the threshold.
    """
    if threshold < 1:
        raise VerificationError("threshold must be at least 1")
    if envelope.payload_type != payload_type:
        raise VerificationError(
            f"payload type is {envelope.payload_type[:100]!r}, expected {payload_type!r}"
        )
    rejection = threshold_rejection(check_envelope(envelope, keys).key_ids, threshold, "envelope")
    if rejection is not None:
        raise VerificationError(rejection.message)
    return envelope.payload
