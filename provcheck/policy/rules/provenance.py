"""``provenance``: every platform has bound provenance (optionally max mode, recent)."""

from __future__ import annotations

from provcheck.policy.model import ProvenanceOptions, RuleOptions
from provcheck.policy.rules.base import (
    EvaluationContext,
    PlatformContext,
    provenance_error,
    with_provenance_error,
)
from provcheck.report.causes import Cause
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "provenance"
_MAX_HINT = "build with --provenance=mode=max (or --attest type=provenance,mode=max)"


def _one(pc: PlatformContext, opts: ProvenanceOptions, ctx: EvaluationContext) -> RuleResult:
    if not pc.provenance:
        error = provenance_error(NAME, pc)
        if error is not None:
            return error
        problems = sum(1 for _ in pc.image.all_problems())
        extra = f" ({problems} unusable attestation problem(s) reported)" if problems else ""
        status = Status.FAIL if opts.required else Status.SKIP
        return RuleResult(
            NAME,
            status,
            pc.key,
            f"no provenance attestation is bound to this platform{extra}",
            (
                Evidence(
                    str(pc.image.descriptor.digest),
                    "",
                    None,
                    "build with --provenance=mode=max and push the whole index",
                ),
            ),
        )
    evidence: list[Evidence] = []
    for rec in pc.provenance:
        p = rec.provenance
        if opts.mode == "max" and not p.max_mode:
            return RuleResult(
                NAME,
                Status.FAIL,
                pc.key,
                "provenance is min mode, the policy requires max mode",
                (Evidence(rec.source, p.pointers["build-config"], "absent", _MAX_HINT),),
                cause=Cause.MIN_MODE,
            )
        if opts.max_age is not None:
            finished = p.finished_on or p.started_on
            if finished is None:
                return RuleResult(
                    NAME,
                    Status.INCOMPLETE,
                    pc.key,
                    "provenance records no build time, so its age cannot be checked",
                    (Evidence(rec.source, p.pointers["finished"]),),
                )
            age = ctx.now - finished
            if age > opts.max_age:
                return RuleResult(
                    NAME,
                    Status.FAIL,
                    pc.key,
                    f"build finished {age.days} days ago, older than the allowed "
                    f"{opts.max_age.days} days",
                    (
                        Evidence(
                            rec.source,
                            p.pointers["finished"],
                            finished.isoformat(),
                            "rebuild the image",
                        ),
                    ),
                )
        evidence.append(
            Evidence(
                rec.source,
                "/predicate",
                f"SLSA {p.version}" + (", max mode" if p.max_mode else ", min mode"),
            )
        )
    return RuleResult(NAME, Status.PASS, pc.key, "provenance is present", tuple(evidence))


class ProvenanceRule:
    """See the module docstring."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """One result per platform."""
        assert isinstance(options, ProvenanceOptions)
        return [with_provenance_error(pc, _one(pc, options, ctx)) for pc in ctx.platforms]
