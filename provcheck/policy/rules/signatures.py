"""``signatures``: an attestation of each required kind, bound to the platform, is signed by
``threshold`` trusted keys or identities. Image signatures are reported but do not satisfy it.

The threshold is not counted here: discovery asks :class:`provcheck.attestation.verify.SignerPool`
once per statement, and only a statement that met it is ``signed``; what fell short is a
rejection (``signed by k of n required distinct trusted signer(s)``) this rule reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from provcheck.attestation.keys import PublicKey
from provcheck.attestation.signatures import SignedKind, SignedObject, signer_label
from provcheck.discovery.model import ProblemKind, TrustLevel
from provcheck.errors import UsageError
from provcheck.policy.model import Policy, RuleOptions, SignaturesOptions
from provcheck.policy.rules.base import EvaluationContext, PlatformContext
from provcheck.predicates import PredicateKind
from provcheck.report.model import Evidence, RuleResult, Status

if TYPE_CHECKING:
    from provcheck.attestation.tlog import TrustedRoot

NAME = "signatures"
_HINT = "sign the attestation: cosign attest --key KEY --type slsaprovenance IMAGE@DIGEST"


def _rejections(signed: tuple[SignedObject, ...]) -> list[Evidence]:
    out = []
    for s in signed:
        if s.check.accepted or s.kind is SignedKind.IMAGE_SIGNATURE:
            continue
        out.append(
            Evidence(
                s.location.split("#", 1)[0],
                "/" + s.location.split("#", 1)[1] if "#" in s.location else "",
                f"rejected ({s.origin}): {'; '.join(s.check.messages)}"[:1000],
                None,
            )
        )
    return out


def _image_signatures(signed: tuple[SignedObject, ...]) -> list[Evidence]:
    return [
        Evidence(
            s.target,
            "",
            f"image signature by {', '.join(signer_label(k) for k in s.check.signers)} verified "
            "(proves who pushed, not what an attestation says)",
            None,
        )
        for s in signed
        if s.kind is SignedKind.IMAGE_SIGNATURE and s.check.accepted
    ]


def _one(pc: PlatformContext, opts: SignaturesOptions, ctx: EvaluationContext) -> RuleResult:
    signed = ctx.image.signed
    by_location = {s.location: s for s in signed}
    evidence: list[Evidence] = []
    missing: list[str] = []
    for name in opts.attestations:
        kind = PredicateKind(name)
        found = []
        for usable in pc.image.statements(kind):
            if usable.layer.trust is not TrustLevel.SIGNED:
                continue
            obj = by_location.get(usable.source)
            signers = usable.layer.signature.signers if usable.layer.signature else ()
            scope = " (index-scoped)" if obj is not None and obj.index_scoped else ""
            who = ", ".join(signer_label(k) for k in signers) or "a signed attestation manifest"
            found.append(
                Evidence(
                    usable.source,
                    "",
                    f"{usable.statement.predicate_type} signed by {who}{scope}",
                    None,
                    TrustLevel.SIGNED.value,
                )
            )
        if found:
            evidence.extend(found)
        else:
            missing.append(name)
    rejected = _rejections(signed)
    if not missing:
        return RuleResult(
            NAME,
            Status.PASS,
            pc.key,
            f"{', '.join(opts.attestations)} signed by a trusted "
            f"{'key' if opts.keys else 'identity'} (threshold {opts.threshold})",
            (*evidence, *rejected),
            TrustLevel.SIGNED.value,
        )
    reasons = "; ".join(e.value or "" for e in rejected)
    message = f"no {', '.join(missing)} attestation bound to this platform is signed by a trusted "
    message += "key or identity"
    # Signed envelopes inside the index are rejected during discovery: their reasons are
    # problems of this platform rather than signed objects of the stores.
    in_index = "; ".join(
        p.message for p in pc.image.all_problems() if p.kind is ProblemKind.SIGNATURE
    )
    if reasons or in_index:
        message += f"; rejected: {'; '.join(r for r in (reasons, in_index) if r)}"
    elif not signed:
        message += "; no signature was found (cosign .att/.sig tags, referrers, index)"
    images = _image_signatures(signed)
    if images:
        message += "; an image signature alone does not satisfy this rule"
    status = Status.FAIL if opts.required else Status.SKIP
    tail = (*rejected, *images)
    fix = Evidence(str(pc.image.descriptor.digest), "", None, _HINT)
    return RuleResult(NAME, status, pc.key, message[:2000], (*evidence, *tail, fix))


class SignaturesRule:
    """See the module docstring."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """One result per platform; an ``error`` result when no key or identity is trusted."""
        assert isinstance(options, SignaturesOptions)
        if not options.keys and not options.identities:
            return [
                RuleResult(
                    NAME,
                    Status.ERROR,
                    None,
                    "no trusted key or identity: list keys/identities in the policy or pass --key",
                )
            ]
        return [_one(pc, options, ctx) for pc in ctx.platforms]


def with_trust(
    policy: Policy, keys: Sequence[PublicKey], trusted_root: TrustedRoot | None = None
) -> Policy:
    """``verify --key FILE… --trusted-root FILE``: add keys (and a trusted root), already read
    and parsed by the caller, to ``policy``.

    Adds ``signatures: {required: true}`` when the policy has no such rule and keys were given.
    Raises :class:`UsageError` for a trusted root without keys or a signatures rule.
    """
    if not keys and trusted_root is None:
        return policy
    current = policy.rules.get(NAME)
    if current is None and not keys:
        raise UsageError("--trusted-root needs identities in the policy's signatures rule")
    opts = current if isinstance(current, SignaturesOptions) else SignaturesOptions()
    opts = dataclasses.replace(
        opts,
        keys=(*opts.keys, *(k for k in keys if k not in opts.keys)),
        trusted_root=trusted_root or opts.trusted_root,
    )
    return dataclasses.replace(policy, rules={**policy.rules, NAME: opts})


__all__ = ["SignaturesRule", "with_trust"]
