"""``platforms``: the required platforms are present in the image (presence only)."""

from __future__ import annotations

from provcheck.policy.model import PlatformsOptions, RuleOptions
from provcheck.policy.rules.base import EvaluationContext
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "platforms"


class PlatformsRule:
    """One result for the whole image."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """Compare normalised ``os/arch[/variant]`` keys of the whole index (not only the
        platforms that ``--platform`` selected)."""
        assert isinstance(options, PlatformsOptions)
        present = sorted({*ctx.index_platforms, *(pc.key for pc in ctx.platforms)})
        missing = [p for p in options.required if p not in present]
        evidence = (
            Evidence(
                str(ctx.image.digest),
                "/manifests" if ctx.image.is_index else "/config",
                ", ".join(present) or "none",
                "build with --platform " + ",".join(options.required) if missing else None,
            ),
        )
        if missing:
            return [
                RuleResult(
                    NAME,
                    Status.FAIL,
                    None,
                    f"missing required platform(s): {', '.join(missing)}",
                    evidence,
                )
            ]
        return [
            RuleResult(
                NAME,
                Status.PASS,
                None,
                f"all required platforms present: {', '.join(options.required)}",
                evidence,
            )
        ]
