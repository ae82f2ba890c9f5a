"""``builder``: the builder id is in an allow-list (an unverified hint, formats.md §6.7).

An empty id (BuildKit's default without ``builder-id``) fails whatever the allow-list says.
"""

from __future__ import annotations

from provcheck.policy.matching import text_matches
from provcheck.policy.model import BuilderOptions, RuleOptions
from provcheck.policy.rules.base import (
    EvaluationContext,
    missing_provenance,
    with_provenance_error,
)
from provcheck.report.model import Evidence, RuleResult, Status

NAME = "builder"


class BuilderRule:
    """One result per platform."""

    name = NAME

    def check(self, ctx: EvaluationContext, options: RuleOptions) -> list[RuleResult]:
        """Every provenance statement must name an allowed builder."""
        assert isinstance(options, BuilderOptions)
        out: list[RuleResult] = []
        for pc in ctx.platforms:
            missing = missing_provenance(NAME, pc)
            if missing is not None:
                out.append(missing)
                continue
            bad = [
                r
                for r in pc.provenance
                if not r.provenance.builder_id
                or not any(text_matches(e, r.provenance.builder_id) for e in options.allow)
            ]
            evidence = tuple(
                Evidence(
                    r.source,
                    r.provenance.pointers["builder"],
                    r.provenance.builder_id,
                    "set builder-id in the provenance attestation" if r in bad else None,
                )
                for r in pc.provenance
            )
            if bad:
                bid = bad[0].provenance.builder_id
                msg = f"builder id {bid!r} is not allowed" if bid else "no builder id is recorded"
                found = RuleResult(NAME, Status.FAIL, pc.key, msg, evidence)
            else:
                found = RuleResult(NAME, Status.PASS, pc.key, "builder id is allowed", evidence)
            out.append(with_provenance_error(pc, found))
        return out
