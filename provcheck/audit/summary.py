"""What an auditor's summary (markdown, html) needs of a whole audit, gathered as reports
stream past: counters, the trust levels of each image, the failing rules grouped (each once,
with its remediation and the images it applies to) and the errors. No report is held."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from provcheck.report.model import Report, Status, Verdict

_WORSE_THAN_PASS = Status.PASS.severity


def trust_levels(report: Report) -> list[str]:
    """The trust levels the results of ``report`` are based on, sorted."""
    return sorted({r.trust for r in report.results if r.trust is not None})


def error_message(report: Report) -> str:
    """Why ``report`` is an error: its error, or the messages of its results in error."""
    if report.error is not None:
        return report.error
    messages = dict.fromkeys(r.message for r in report.results if r.status is Status.ERROR)
    return "; ".join(messages) or "no results"


@dataclass(slots=True)
class RuleGroup:
    """One rule not passed: its remediations and the images (references as given)."""

    remediations: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Summary:
    """Totals of an audit, fed one report at a time by :meth:`add`."""

    verdicts: Counter[Verdict] = field(default_factory=Counter)
    trust: Counter[str] = field(default_factory=Counter)
    rules: dict[str, RuleGroup] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add(self, report: Report) -> None:
        self.verdicts[report.verdict] += 1
        self.trust.update(trust_levels(report) or ["none"])
        if report.verdict is Verdict.ERROR:
            self.errors.append((report.reference, error_message(report)))
        seen: set[str] = set()
        for result in report.results:
            if result.status.severity <= _WORSE_THAN_PASS:
                continue
            group = self.rules.setdefault(result.rule, RuleGroup())
            group.remediations.update(e.remediation for e in result.evidence if e.remediation)
            if result.rule not in seen:
                seen.add(result.rule)
                group.references.append(report.reference)

    def most_failed(self) -> list[tuple[str, RuleGroup]]:
        """The groups, the rule failed by most images first (then by name)."""
        return sorted(self.rules.items(), key=lambda item: (-len(item[1].references), item[0]))
