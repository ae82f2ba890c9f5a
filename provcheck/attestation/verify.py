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
from provcheck.attestation.tlog import (
    DsseMaterial,
    TlogEvidence,
    check_tlog,
    tlog_required_reason,
)
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
    tlog_evidence: TlogEvidence | None = None,
    raw_envelope: bytes | None = None,
) -> VerifiedPayload:
    """Check ``envelope``: payload type, then (with ``trust``) its signatures and threshold.

    Without ``trust`` the payload is only decoded and parsed: nothing is verified, and callers
    must not call the result signed. ``keyless_bundle`` is the sigstore bundle to verify
    keylessly (through the optional ``sigstore`` extra). ``tlog_evidence``: the transparency-log
    entries found with a key-based signature, checked against ``trust.log_keys`` once a trusted
    key verified the envelope (``raw_envelope``: the envelope bytes as stored, which an
    ``intoto`` entry hashes); a present entry that fails is a rejection whatever the policy
    says. ``tlog`` is the status to report for material that is not checked here. Never raises
    for bad content.
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
            if tlog_evidence is not None:
                keys = tuple(k for k in trust.keys if k.key_id in signers)
                outcome = check_tlog(
                    tlog_evidence, trust.log_keys, DsseMaterial(envelope, keys, raw_envelope)
                )
                tlog = outcome.status
                if outcome.rejection is not None:
                    rejections.append(outcome.rejection)
        if trust.tlog_required and tlog != "verified" and not rejections:
            rejections.append(tlog_required_reason(tlog, trust.log_keys))
    statement: Statement | None = None
    try:
        statement = parse_statement(payload)  # exactly the verified bytes
    except ProvcheckError as exc:
        rejections.append(exc.diagnostics())
    digest = hashlib.sha256(payload).hexdigest()
    return VerifiedPayload(statement, signers, tuple(rejections), digest, tlog)
