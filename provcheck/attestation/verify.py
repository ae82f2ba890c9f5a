"""The one signature verifier: what each signature proves, and the threshold over all of them.

Every way a statement becomes ``signed`` or ``index-bound`` goes through here:

* :func:`verify_statement_envelope` checks a DSSE envelope (cosign ``.att``, sigstore bundles,
  DSSE referrers, DSSE layers inside the index): which trusted keys or identities signed exactly
  its payload bytes, and the statement parsed from exactly those bytes;
* :func:`verify_simple_signature` checks a cosign simple-signing signature (``.sig`` tags,
  ``cosign.artifact.sig`` referrers): which trusted keys signed a payload naming exactly the
  manifest or index it was found for;
* a :class:`SignerPool` collects what every accepted signature covers and applies the threshold
  once, per statement, over the bytes that chain to it (:meth:`SignerPool.tally`).

Neither verification function applies the threshold, and neither raises for bad content:
rejections are typed (:class:`~provcheck.attestation.signatures.RejectionReason`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from provcheck.attestation.cosign import SIMPLE_SIGNING_TYPE, verify_simple_signing
from provcheck.attestation.dsse import IN_TOTO_PAYLOAD_TYPE, Envelope, b64decode_any, check_envelope
from provcheck.attestation.signatures import (
    Rejection,
    RejectionReason,
    SignatureCheck,
    TlogStatus,
    TrustConfig,
    threshold_rejection,
)
from provcheck.attestation.statement import Statement, parse_statement
from provcheck.attestation.tlog import (
    NO_TLOG,
    DsseMaterial,
    MessageMaterial,
    TlogEvidence,
    check_tlog,
    tlog_required_reason,
)
from provcheck.errors import ProvcheckError, VerificationError
from provcheck.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class VerifiedPayload:
    """The outcome of checking one envelope.

    ``statement`` is set when the payload parsed (verified when trust was given); ``signers``
    are the key ids or identities that verified it; ``rejections`` say why it may not be used;
    ``tlog`` is what is known of its transparency-log entry; ``payload_digest`` is the sha256
    hex of the payload bytes.
    """

    statement: Statement | None
    signers: tuple[str, ...]
    rejections: tuple[Rejection, ...]
    payload_digest: str | None
    tlog: TlogStatus

    @property
    def check(self) -> SignatureCheck:
        """This outcome as a :class:`SignatureCheck` over the payload bytes."""
        covers = f"sha256:{self.payload_digest}" if self.payload_digest else None
        return SignatureCheck(self.signers, self.rejections, self.tlog, covers)


def _require_tlog(trust: TrustConfig, tlog: TlogStatus, rejections: list[Rejection]) -> None:
    """With ``tlog: required``, reject a signature nothing else rejected whose transparency-log
    entry is not verified."""
    if trust.tlog_required and tlog is not TlogStatus.VERIFIED and not rejections:
        reason = tlog_required_reason(tlog, trust.log_keys)
        rejections.append(Rejection(RejectionReason.TLOG_REQUIRED, reason))


def signed_later(integrated: datetime | None, trust: TrustConfig) -> Rejection | None:
    """With an evaluation instant (``trust.at``), reject a keyless signature that the log
    integrated after it (it did not exist then) or whose time is unknown (fail closed)."""
    if trust.at is None or (integrated is not None and integrated <= trust.at):
        return None
    when = integrated.isoformat() if integrated is not None else "an unknown time"
    return Rejection(
        RejectionReason.SIGNED_LATER,
        f"keyless signature logged at {when}, after the evaluation time {trust.at.isoformat()}",
    )


def verify_statement_envelope(
    envelope: Envelope,
    trust: TrustConfig | None,
    *,
    keyless_bundle: bytes | None = None,
    tlog: TlogStatus = TlogStatus.ABSENT,
    tlog_evidence: TlogEvidence | None = None,
    raw_envelope: bytes | None = None,
) -> VerifiedPayload:
    """Check ``envelope``: payload type, then (with ``trust``) its signatures.

    Without ``trust`` the payload is only decoded and parsed: nothing is verified, and callers
    must not call the result signed. ``keyless_bundle`` is the sigstore bundle to verify
    keylessly (through the optional ``sigstore`` extra). ``tlog_evidence``: the transparency-log
    entries found with a key-based signature, checked against ``trust.log_keys`` once a trusted
    key verified the envelope (``raw_envelope``: the envelope bytes as stored, which an
    ``intoto`` entry hashes); a present entry that fails is a rejection whatever the policy
    says. ``tlog`` is the status to report for material that is not checked here. The
    threshold is not applied here (see :class:`SignerPool`). Never raises for bad content.
    """
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        reason = (
            f"wrong payload type {envelope.payload_type[:100]!r} "
            f"(expected {IN_TOTO_PAYLOAD_TYPE!r})"
        )
        return VerifiedPayload(
            None, (), (Rejection(RejectionReason.PAYLOAD_TYPE, reason),), None, tlog
        )
    payload = envelope.payload
    signers: tuple[str, ...] = ()
    rejections: list[Rejection] = []
    if trust is not None:
        if keyless_bundle is not None:
            from provcheck.attestation._sigstore import verify_keyless_dsse

            try:
                _, payload, who, integrated = verify_keyless_dsse(
                    keyless_bundle, trust.identities, trust.trusted_root
                )
            except VerificationError as exc:
                reason = f"keyless signature rejected: {exc.diagnostics()}"
                return VerifiedPayload(
                    None, (), (Rejection(RejectionReason.UNTRUSTED, reason),), None, tlog
                )
            signers, tlog = (who,), TlogStatus.VERIFIED
            later = signed_later(integrated, trust)
            if later is not None:
                rejections.append(later)
        else:
            signers = check_envelope(envelope, trust.keys).key_ids
            if not signers:
                reason = f"does not verify under any of the {len(trust.keys)} trusted key(s)"
                return VerifiedPayload(
                    None, (), (Rejection(RejectionReason.UNTRUSTED, reason),), None, tlog
                )
            if tlog_evidence is not None:
                keys = tuple(k for k in trust.keys if k.key_id in signers)
                outcome = check_tlog(
                    tlog_evidence, trust.log_keys, DsseMaterial(envelope, keys, raw_envelope)
                )
                tlog = outcome.status
                if outcome.rejection is not None:
                    rejections.append(Rejection(RejectionReason.TLOG, outcome.rejection))
        _require_tlog(trust, tlog, rejections)
    statement: Statement | None = None
    try:
        statement = parse_statement(payload)  # exactly the verified bytes
    except ProvcheckError as exc:
        rejections.append(Rejection(RejectionReason.MALFORMED, exc.diagnostics()))
    digest = hashlib.sha256(payload).hexdigest()
    return VerifiedPayload(statement, signers, tuple(rejections), digest, tlog)


def verify_simple_signature(
    payload: bytes,
    signature_b64: str,
    target: Digest,
    trust: TrustConfig | None,
    *,
    tlog_evidence: TlogEvidence = NO_TLOG,
) -> SignatureCheck:
    """Check a cosign simple-signing signature found in the store of ``target``.

    Accepted when a trusted key verified the signature over ``payload`` and the payload names
    exactly ``target`` with cosign's type; a present transparency-log entry must verify, and
    one is required with ``trust.tlog_required``. ``covers`` is ``target``. The threshold is
    not applied here (see :class:`SignerPool`). Never raises for bad content.
    """
    tlog = tlog_evidence.status
    if trust is None:
        unchecked = Rejection(
            RejectionReason.NOT_VERIFIED, "not verified: no trusted key configured"
        )
        return SignatureCheck((), (unchecked,), tlog, str(target))
    rejections: list[Rejection] = []
    signers: tuple[str, ...] = ()
    try:
        parsed, signers = verify_simple_signing(payload, signature_b64, trust.keys)
    except VerificationError as exc:
        rejections.append(Rejection(RejectionReason.UNTRUSTED, exc.diagnostics()))
    except ProvcheckError as exc:
        rejections.append(Rejection(RejectionReason.MALFORMED, exc.diagnostics()))
    else:
        if parsed.manifest_digest != str(target):
            rejections.append(
                Rejection(
                    RejectionReason.BOUND_ELSEWHERE,
                    f"signed payload names {parsed.manifest_digest[:80]}, not "
                    f"{target.short}: bound to another image",
                )
            )
        if parsed.type != SIMPLE_SIGNING_TYPE:
            rejections.append(
                Rejection(
                    RejectionReason.MALFORMED,
                    f"unexpected simple-signing type {parsed.type[:80]!r}",
                )
            )
        outcome = check_tlog(
            tlog_evidence,
            trust.log_keys,
            MessageMaterial(
                payload,
                b64decode_any(signature_b64, "cosign signature"),
                tuple(k for k in trust.keys if k.key_id in signers),
            ),
        )
        tlog = outcome.status
        if outcome.rejection is not None:
            rejections.append(Rejection(RejectionReason.TLOG, outcome.rejection))
    _require_tlog(trust, tlog, rejections)
    return SignatureCheck(signers, tuple(rejections), tlog, str(target))


@dataclass(frozen=True, slots=True)
class Tally:
    """The distinct trusted signers over the bytes that chain to one statement, and the
    threshold's verdict on them (``rejection`` is ``None`` when it is met)."""

    signers: tuple[str, ...]
    rejection: Rejection | None

    @property
    def met(self) -> bool:
        """True when the threshold is met."""
        return self.rejection is None


@dataclass(slots=True)
class SignerPool:
    """Who validly signed which bytes, and the threshold over them (applied here only).

    Each entry: the ``sha256:<hex>`` of exactly the bytes a signature covers (a DSSE payload;
    the manifest or index a simple-signing payload names) and the trusted keys or identities
    that verified it. A signer counts once per statement, however many envelopes, layers or
    stores carry its signatures.
    """

    threshold: int
    _signers: dict[str, set[str]] = field(default_factory=dict)

    def add(self, check: SignatureCheck) -> None:
        """Record ``check`` when it is valid (only the threshold may still reject it)."""
        if check.valid and check.covers is not None:
            self._signers.setdefault(check.covers, set()).update(check.signers)

    def tally(self, chain: Iterable[str], what: str) -> Tally:
        """The distinct signers over any of the ``chain`` digests (the statement's own bytes,
        and the attestation manifest or index whose digest chains to it) against the
        threshold; ``what`` names the statement in the rejection."""
        signers: set[str] = set()
        for digest in chain:
            signers |= self._signers.get(digest, set())
        return Tally(tuple(sorted(signers)), threshold_rejection(signers, self.threshold, what))
