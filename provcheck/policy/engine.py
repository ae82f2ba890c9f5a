"""Evaluate an image's attestations against a policy."""

from __future__ import annotations

from datetime import UTC, datetime

from provcheck.discovery.model import ImageAttestations
from provcheck.errors import ProvcheckError
from provcheck.policy.model import Policy
from provcheck.policy.rules import RULES, EvaluationContext, PlatformContext, ProvenanceRecord
from provcheck.predicates import PredicateKind
from provcheck.predicates.slsa import parse_provenance
from provcheck.report.model import Evidence, Report, RuleResult, Status
from provcheck.report.trust import annotate_trust


def _unreadable_evidence(image: ImageAttestations) -> list[RuleResult]:
    """An ``error`` result for each attestation that could not be read or failed its digest.

    Such evidence is neither trusted nor ignored: the verdict becomes ``error`` (exit 3) unless
    a rule fails outright on what could be read.
    """
    out: list[RuleResult] = []
    for pi in image.images:
        for problem in pi.all_problems():
            if problem.kind.unreadable:
                source = str(problem.digest) if problem.digest else str(pi.descriptor.digest)
                out.append(
                    RuleResult(
                        "evidence",
                        Status.ERROR,
                        pi.platform.key,
                        problem.message,
                        (Evidence(source, ""),),
                    )
                )
    out.extend(
        RuleResult("evidence", Status.ERROR, None, problem.message)
        for problem in image.problems
        if problem.kind.unreadable
    )
    return out


def _platform_contexts(image: ImageAttestations) -> tuple[PlatformContext, ...]:
    out: list[PlatformContext] = []
    for pi in image.images:
        if pi.platform.is_unknown:
            continue
        records: list[ProvenanceRecord] = []
        errors: list[tuple[str, str]] = []
        for usable in pi.statements(PredicateKind.PROVENANCE):
            try:
                records.append(ProvenanceRecord(usable.source, parse_provenance(usable.statement)))
            except ProvcheckError as exc:
                errors.append((usable.source, exc.diagnostics()))
        out.append(PlatformContext(pi, pi.platform.key, tuple(records), tuple(errors)))
    return tuple(out)


def evaluate(image: ImageAttestations, policy: Policy, *, now: datetime | None = None) -> Report:
    """Evaluate ``image`` against ``policy`` and return the report (never raises for data).

    Uses usable provenance statements and each platform's image config (``PlatformImage.config``;
    without it the ``build-args`` rule is ``incomplete``). A rule that raises a
    :class:`ProvcheckError` gives an ``error`` result; an image with no platform image gives an
    ``error`` result for every rule (fail closed).
    """
    ctx = EvaluationContext(image, _platform_contexts(image), now or datetime.now(UTC))
    results: list[RuleResult] = []
    for name, options in policy.rules.items():
        if not ctx.platforms:
            results.append(
                RuleResult(
                    name,
                    Status.ERROR,
                    None,
                    "no platform image was found",
                    (Evidence(str(image.digest), ""),),
                )
            )
            continue
        try:
            results.extend(RULES[name].check(ctx, options))
        except ProvcheckError as exc:
            results.append(RuleResult(name, Status.ERROR, None, exc.diagnostics()))
    results.extend(_unreadable_evidence(image))
    problems = tuple(
        f"{p.kind}: {p.message}" + (f" ({p.digest.short})" if p.digest else "")
        for p in image.all_problems()
    )
    report = Report(
        policy=policy.name,
        reference=image.reference,
        digest=str(image.digest),
        results=tuple(results),
        on_incomplete=policy.on_incomplete,
        problems=problems,
    )
    return annotate_trust(report, image)
