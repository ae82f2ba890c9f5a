"""``vsa``: a SLSA verification summary for exactly this digest, signed by one of the rule's keys,
``PASSED``, for the required policy, not from the future and not older than ``max-age``.

The admission fast path: a gate checks one small signed document instead of evaluating every
attestation again. The candidates are every DSSE envelope found in the signature stores (the
``sha256-<hex>.att`` tag and the referrers of the root), whoever else trusts them: each is
verified here with the rule's keys (the one DSSE verifier, :mod:`provcheck.attestation.dsse`),
then its verified payload is read. Unsigned VSA statements (in-toto layers without an envelope)
are candidates too, so that their presence is reported. One result for the whole image: the
first candidate that passes, else the reason of the candidate that came closest
(:data:`REASON_ORDER`), and each candidate's reason in the evidence.

A VSA whose subject is another digest also makes discovery report a statement bound to another
image, which voids evidence (verdict ``error``, exit 3), as for any attestation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from provcheck._internal.clock import parse_rfc3339
from provcheck._internal.jsonload import load_json
from provcheck.attestation.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    b64decode_any,
    check_envelope,
    envelope_from_dict,
)
from provcheck.attestation.keys import PublicKey
from provcheck.attestation.signatures import SignedKind
from provcheck.attestation.statement import Statement, parse_statement
from provcheck.discovery.model import ImageAttestations, TrustLevel
from provcheck.errors import EnvelopeError, ProvcheckError
from provcheck.oci.digest import Digest
from provcheck.policy.model import RuleOptions, VsaOptions
from provcheck.policy.rules.base import EvaluationContext
from provcheck.predicates import SLSA_VSA_V1
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "vsa"
_HINT = (
    "verify the image in CI and attach a signed summary: provcheck verify IMAGE@DIGEST "
    "--policy FILE --format vsa --sign-key KEY.pem --attach"
)


class VsaReason(StrEnum):
    """Why a verification summary was not accepted."""

    STALE = "stale"
    """Verified longer ago than ``max-age``."""
    FUTURE = "future"
    """``timeVerified`` is after the evaluation's ``now``."""
    WRONG_POLICY = "wrong-policy"
    """It names another policy digest than ``policy-digest``."""
    FAILED = "failed"
    """Its ``verificationResult`` is not ``PASSED``."""
    REPLAYED = "replayed"
    """Its subject is another digest than this image's."""
    MALFORMED = "malformed"
    """Signed, but not a readable VSA statement."""
    FORGED = "forged"
    """Signed, but no signature verifies under the rule's keys."""
    UNSIGNED = "unsigned"
    """It carries no signature at all."""
    MISSING = "missing"
    """No verification summary was found."""


REASON_ORDER: Final[tuple[VsaReason, ...]] = tuple(VsaReason)
"""Closest to acceptance first: the reason a failing result reports."""


@dataclass(frozen=True, slots=True)
class VsaVerdict:
    """What one candidate gave: ``reason`` ``None`` when it is accepted."""

    location: str
    reason: VsaReason | None
    message: str
    signers: tuple[str, ...] = ()
    verified: datetime | None = None
    """An accepted summary's ``timeVerified``."""


def _claims_vsa(doc: dict[str, Any], hint: str | None) -> bool:
    """True when an (unverified) envelope says it holds a VSA: its annotation or payload."""
    if hint == SLSA_VSA_V1:
        return True
    payload = doc.get("payload")
    if not isinstance(payload, str):
        return False
    try:
        claimed = load_json(b64decode_any(payload), "VSA payload", EnvelopeError)
    except EnvelopeError:
        return False
    return isinstance(claimed, dict) and claimed.get("predicateType") == SLSA_VSA_V1


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        return None


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def judge_statement(
    statement: Statement, digest: Digest, options: VsaOptions, now: datetime
) -> tuple[VsaReason | None, str]:
    """Judge a verified VSA statement for ``digest`` at ``now`` (see the module docstring)."""
    subjects = [s.digest.get(digest.algorithm) for s in statement.subjects]
    if digest.hex not in subjects:
        named = ", ".join(f"{digest.algorithm}:{(h or '?')[:12]}" for h in subjects) or "none"
        return VsaReason.REPLAYED, f"it is for {named}, not {digest.short}"
    predicate = statement.predicate
    result = predicate.get("verificationResult")
    if result != "PASSED":
        shown = repr(result)[:40]
        return VsaReason.FAILED, f"its verificationResult is {shown}, not 'PASSED'"
    policy = predicate.get("policy")
    named_digest = policy.get("digest") if isinstance(policy, dict) else None
    sha = named_digest.get("sha256") if isinstance(named_digest, dict) else None
    if options.policy_digest is not None and sha != options.policy_digest:
        shown = f"sha256:{sha}" if isinstance(sha, str) else "no policy digest"
        return VsaReason.WRONG_POLICY, (
            f"it names {shown[:80]}, not the required sha256:{options.policy_digest}"
        )
    verified = _time(predicate.get("timeVerified"))
    if verified is None:
        return VsaReason.MALFORMED, "its timeVerified is not an RFC 3339 time with a zone"
    if verified > now:
        return (
            VsaReason.FUTURE,
            f"it was verified at {verified.isoformat()}, after {now.isoformat()}",
        )
    age = now - verified
    if options.max_age is not None and age > options.max_age:
        return VsaReason.STALE, (
            f"it was verified {_age(age)} ago ({verified.isoformat()}), "
            f"longer than max-age {_age(options.max_age)}"
        )
    policy_text = f", policy sha256:{sha[:12]}" if isinstance(sha, str) else ""
    return None, f"PASSED at {verified.isoformat()} ({_age(age)} ago{policy_text})"


def judge_envelope(
    data: bytes,
    hint: str | None,
    location: str,
    keys: Sequence[PublicKey],
    digest: Digest,
    options: VsaOptions,
    now: datetime,
) -> VsaVerdict | None:
    """Judge the stored envelope ``data``; ``None`` when it does not hold (or claim) a VSA."""
    try:
        doc = load_json(data, "envelope", EnvelopeError)
    except EnvelopeError:
        doc = None
    if not isinstance(doc, dict):
        if hint != SLSA_VSA_V1:
            return None
        return VsaVerdict(location, VsaReason.MALFORMED, "the envelope is not a JSON object")
    if not _claims_vsa(doc, hint):
        return None
    if not doc.get("signatures"):
        return VsaVerdict(location, VsaReason.UNSIGNED, "the envelope has no signature")
    try:
        envelope = envelope_from_dict(doc)
    except EnvelopeError as exc:
        return VsaVerdict(location, VsaReason.MALFORMED, exc.diagnostics())
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        shown = repr(envelope.payload_type[:100])
        return VsaVerdict(location, VsaReason.MALFORMED, f"payload type {shown} is not in-toto")
    signers = check_envelope(envelope, keys).key_ids
    if not signers:
        return VsaVerdict(
            location,
            VsaReason.FORGED,
            f"none of its {len(envelope.signatures)} signature(s) verifies under the "
            f"{len(keys)} key(s) of the vsa rule",
        )
    try:
        statement = parse_statement(envelope.payload)
    except ProvcheckError as exc:
        return VsaVerdict(location, VsaReason.MALFORMED, exc.diagnostics(), signers)
    if statement.predicate_type != SLSA_VSA_V1:
        return None  # a signed statement of another type
    reason, message = judge_statement(statement, digest, options, now)
    verified = _time(statement.predicate.get("timeVerified")) if reason is None else None
    return VsaVerdict(location, reason, message, signers, verified)


def _signed(image: ImageAttestations, options: VsaOptions, now: datetime) -> Iterator[VsaVerdict]:
    """The verdict of each envelope of the signature stores that holds (or claims) a VSA."""
    for signed in image.signed:
        if signed.kind is not SignedKind.ATTESTATION or signed.envelope is None:
            continue
        verdict = judge_envelope(
            signed.envelope,
            signed.predicate_type,
            signed.location,
            options.keys,
            image.digest,
            options,
            now,
        )
        if verdict is not None:
            yield verdict


def accepted_until(image: ImageAttestations, options: VsaOptions, now: datetime) -> datetime | None:
    """Until when the rule, judged at ``now``, passes on ``image`` as long as its stores do not
    change: the latest ``timeVerified + max-age`` of the summaries it accepts (``datetime.max``
    without ``max-age``), or ``None`` when it accepts none (its result is not a pass)."""
    if not options.keys:
        return None
    accepted = [v.verified for v in _signed(image, options, now) if v.reason is None]
    if not accepted:
        return None
    if options.max_age is None:
        return datetime.max.replace(tzinfo=UTC)
    return max(verified + options.max_age for verified in accepted if verified is not None)


def _candidates(ctx: EvaluationContext, options: VsaOptions) -> Iterator[VsaVerdict]:
    image = ctx.image
    seen = {
        signed.location
        for signed in image.signed
        if signed.kind is SignedKind.ATTESTATION and signed.envelope is not None
    }
    yield from _signed(image, options, ctx.now)
    for pi in image.images:
        for usable in pi.statements():
            where = usable.source
            if usable.statement.predicate_type != SLSA_VSA_V1 or where in seen:
                continue
            seen.add(where)
            yield VsaVerdict(
                where,
                VsaReason.UNSIGNED,
                "an in-toto statement outside a DSSE envelope the rule can verify (unsigned, or "
                "in a sigstore bundle, which the vsa rule does not read)",
            )


def _evidence(verdict: VsaVerdict) -> Evidence:
    source, _, pointer = verdict.location.partition("#")
    what = "accepted" if verdict.reason is None else f"rejected ({verdict.reason.value})"
    trust = TrustLevel.SIGNED.value if verdict.reason is None else None
    return Evidence(
        source, f"/{pointer}" if pointer else "", f"{what}: {verdict.message}"[:1000], None, trust
    )


class VsaRule:
    """See the module docstring."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """One result for the image; ``error`` when the rule has no key (fail closed)."""
        assert isinstance(options, VsaOptions)
        if not options.keys:
            return [RuleResult(NAME, Status.ERROR, None, "the vsa rule has no key")]
        verdicts = sorted(_candidates(ctx, options), key=lambda v: v.location)
        accepted = next((v for v in verdicts if v.reason is None), None)
        if accepted is not None:
            who = ", ".join(k[:12] for k in accepted.signers)
            return [
                RuleResult(
                    NAME,
                    Status.PASS,
                    None,
                    f"VSA for {ctx.image.digest.short} signed by {who}: {accepted.message}"[:2000],
                    (_evidence(accepted),),
                    TrustLevel.SIGNED.value,
                )
            ]
        if not verdicts:
            message = (
                f"no verification summary (VSA) for {ctx.image.digest.short} was found "
                f"({VsaReason.MISSING.value}; looked in its cosign .att tag and referrers)"
            )
            fix = Evidence(str(ctx.image.digest), "", None, _HINT)
            return [RuleResult(NAME, Status.FAIL, None, message, (fix,))]
        best = min(verdicts, key=lambda v: REASON_ORDER.index(v.reason or VsaReason.MISSING))
        assert best.reason is not None
        others = len(verdicts) - 1
        tail = f"; {others} other VSA(s) rejected too" if others else ""
        message = f"VSA rejected ({best.reason.value}): {best.message}{tail}"
        evidence = tuple(_evidence(v) for v in verdicts)
        fix = Evidence(str(ctx.image.digest), "", None, _HINT)
        return [RuleResult(NAME, Status.FAIL, None, message[:2000], (*evidence, fix))]


__all__ = [
    "REASON_ORDER",
    "VsaReason",
    "VsaRule",
    "VsaVerdict",
    "accepted_until",
    "judge_envelope",
]
