"""Verify a signed in-toto statement (a DSSE envelope) against the configured trust.

Used for every place a signed statement can come from: signature stores (cosign ``.att``,
sigstore bundles, DSSE referrers) and DSSE layers inside the image index. The statement returned
is parsed from exactly the payload bytes that were verified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from provcheck.attestation.dsse import IN_TOTO_PAYLOAD_TYPE, Envelope, check_envelope
from provcheck.attestation.signatures import TrustConfig
from provcheck.attestation.statement import Statement, parse_statement
from provcheck.errors import ProvcheckError, VerificationError


@dataclass(frozen=True, slots=True)
class VerifiedPayload:
    """The outcome of checking one envelope.

    ``statement`` is set when the payload parsed (verified when trust was given); ``signers``
    are the key ids or identities that verified it; ``rejections`` say why it may not be used;
    ``tlog`` is ``verified``, ``unverified`` or ``absent``.
    """

    statement: Statement | None
    signers: tuple[str, ...]
    rejections: tuple[str, ...]
    payload_digest: str | None
    tlog: str


def verify_statement_envelope(
    envelope: Envelope,
    trust: TrustConfig | None,
    *,
    keyless_bundle: bytes | None = None,
    tlog: str = "absent",
) -> VerifiedPayload:
    """Check ``envelope``: payload type, then (with ``trust``) its signatures and threshold.

    Without ``trust`` the payload is only decoded and parsed: nothing is verified, and callers
    must not call the result signed. ``keyless_bundle`` is the sigstore bundle to verify
    keylessly (through the optional ``sigstore`` extra). Never raises for bad content.
    """
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        reason = (
            f"wrong payload type {envelope.payload_type[:100]!r} "
            f"(expected {IN_TOTO_PAYLOAD_TYPE!r})"
        )
        return VerifiedPayload(None, (), (reason,), None, tlog)
    payload = envelope.payload
    signers: tuple[str, ...] = ()
    rejections: list[str] = []
    if trust is not None:
        if keyless_bundle is not None:
            from provcheck.attestation._sigstore import verify_keyless_dsse

            try:
                _, payload, who = verify_keyless_dsse(
                    keyless_bundle, trust.identities, trust.trusted_root
                )
            except VerificationError as exc:
                reason = f"keyless signature rejected: {exc.diagnostics()}"
                return VerifiedPayload(None, (), (reason,), None, tlog)
            signers, tlog = (who,), "verified"
        else:
            signers = check_envelope(envelope, trust.keys).key_ids
            if not signers:
                reason = f"does not verify under any of the {len(trust.keys)} trusted key(s)"
                return VerifiedPayload(None, (), (reason,), None, tlog)
        if trust.tlog_required and tlog != "verified":
            rejections.append(
                f"no verified transparency-log entry (the policy requires tlog; entry {tlog})"
            )
    statement: Statement | None = None
    try:
        statement = parse_statement(payload)  # exactly the verified bytes
    except ProvcheckError as exc:
        rejections.append(exc.diagnostics())
    digest = hashlib.sha256(payload).hexdigest()
    return VerifiedPayload(statement, signers, tuple(rejections), digest, tlog)
