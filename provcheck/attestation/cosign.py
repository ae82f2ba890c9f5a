"""cosign simple-signing payloads (``.sig`` tags, ``cosign.artifact.sig`` referrers) and the
``dev.sigstore.cosign/bundle`` annotation (formats.md §8.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from provcheck._internal.jsonload import load_json, load_json_object
from provcheck.attestation.dsse import b64decode_any
from provcheck.attestation.keys import PublicKey
from provcheck.errors import AttestationError, VerificationError

SIGNATURE_ANNOTATION: Final = "dev.cosignproject.cosign/signature"
BUNDLE_ANNOTATION: Final = "dev.sigstore.cosign/bundle"
CERTIFICATE_ANNOTATION: Final = "dev.sigstore.cosign/certificate"
SIMPLE_SIGNING_TYPE: Final = "cosign container image signature"
COSIGN_ARTIFACT_SIG: Final = "application/vnd.dev.cosign.artifact.sig.v1+json"


@dataclass(frozen=True, slots=True)
class SimpleSigning:
    """The ``critical`` part of a simple-signing payload."""

    docker_reference: str
    manifest_digest: str
    type: str


def parse_simple_signing(payload: bytes) -> SimpleSigning:
    """Parse a simple-signing payload. Raises :class:`AttestationError` when malformed."""
    what = "cosign simple-signing payload"
    critical = load_json_object(payload, what, AttestationError).get("critical")
    if not isinstance(critical, dict):
        raise AttestationError(f"malformed {what}: no critical object")
    identity, image, kind = critical.get("identity"), critical.get("image"), critical.get("type")
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not all(isinstance(v, str) for v in (reference, digest, kind)):
        raise AttestationError(
            f"malformed {what}: critical.identity.docker-reference, "
            "critical.image.docker-manifest-digest and critical.type must be strings"
        )
    return SimpleSigning(str(reference), str(digest), str(kind))


def verify_simple_signing(
    payload: bytes, signature_b64: str, keys: tuple[PublicKey, ...]
) -> tuple[SimpleSigning, tuple[str, ...]]:
    """Verify a ``.sig`` layer: the signature is over the payload bytes themselves.

    Returns the parsed payload and the ids of the trusted keys that verified it. Raises
    :class:`VerificationError` when no trusted key verifies it, :class:`AttestationError` when
    the payload is malformed.
    """
    signature = b64decode_any(signature_b64, "cosign signature")
    signers: list[str] = []
    for key in keys:
        try:
            key.verify(signature, payload)
        except VerificationError:
            continue
        signers.append(key.key_id)
    if not signers:
        raise VerificationError(
            f"signature does not verify under any of the {len(keys)} trusted key(s)"
        )
    return parse_simple_signing(payload), tuple(signers)


def has_tlog_bundle(annotations: dict[str, str] | object) -> bool:
    """True when a cosign layer carries a Rekor bundle annotation that parses as JSON.

    (Presence only; :func:`provcheck.attestation.tlog.evidence_from_annotations` reads the entry
    for verification.)
    """
    if not isinstance(annotations, dict) or BUNDLE_ANNOTATION not in annotations:
        return False
    try:
        doc = load_json(annotations[BUNDLE_ANNOTATION], BUNDLE_ANNOTATION, AttestationError)
    except AttestationError:
        return False
    return isinstance(doc, dict) and "SignedEntryTimestamp" in doc
