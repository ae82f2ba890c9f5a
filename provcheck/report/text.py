"""A plain-text report for terminals and logs.

Each thing is said once: a result's trust level on its line (an evidence line repeats it only
when it differs), an attestation's digest once for all the evidence read from it, each fix once
with the results it applies to, and one legend for the trust labels used. Every string passes
through :func:`escape_text`, so an attestation cannot add lines or terminal escapes.
"""

from __future__ import annotations

from provcheck.report.escape import escape_text
from provcheck.report.legend import trust_legend
from provcheck.report.model import Evidence, Report, RuleResult, Status

_INDENT = " " * 11


def _trust_label(trust: str | None, shown: str | None) -> str:
    """`` [trust]`` unless it says what the result line already said."""
    return f" [{escape_text(trust)}]" if trust is not None and trust != shown else ""


def _detail(e: Evidence) -> str:
    """``pointer = value`` (the pointer as joined to its source)."""
    sep = "" if "#" in e.source or not e.pointer else "#"
    out = escape_text(f"{sep}{e.pointer}")
    return out if e.value is None else f"{out} = {escape_text(e.value)}"


def _evidence_lines(r: RuleResult) -> list[str]:
    """One line per evidence; a source with several evidence is named once above them."""
    by_source: dict[str, list[Evidence]] = {}
    for e in r.evidence:
        by_source.setdefault(e.source, []).append(e)
    lines: list[str] = []
    for source, items in by_source.items():
        head = f"{_INDENT}- {escape_text(source)}"
        if len(items) == 1:
            lines.append(f"{head}{_detail(items[0])}{_trust_label(items[0].trust, r.trust)}")
            continue
        lines.append(f"{head}{_trust_label(items[0].trust, r.trust)}")
        lines.extend(
            f"{_INDENT}    {_detail(e)}{_trust_label(e.trust, items[0].trust)}" for e in items
        )
    return lines


def _fix_lines(report: Report) -> list[str]:
    """Each remediation once, naming the rules and platforms of the results it fixes."""
    fixes: dict[str, dict[str, list[str]]] = {}
    for r in report.results:
        if r.status is Status.PASS:
            continue
        for e in r.evidence:
            if e.remediation:
                where = fixes.setdefault(e.remediation, {}).setdefault(r.rule, [])
                if (r.platform or "image") not in where:
                    where.append(r.platform or "image")
    lines = []
    for fix, rules in fixes.items():
        applies = "; ".join(f"{rule}: {', '.join(where)}" for rule, where in rules.items())
        lines.append(f"fix ({escape_text(applies)}): {escape_text(fix)}")
    return lines


def render_text(report: Report) -> str:
    """One line per result, evidence indented beneath it, fixes and the legend, verdict last."""
    lines = [
        f"image:  {escape_text(report.reference)}",
        f"digest: {escape_text(report.digest)}",
        f"policy: {escape_text(report.policy)} (on-incomplete: {report.on_incomplete})",
        "",
    ]
    for r in report.results:
        where = escape_text(r.platform or "image")
        trust = f" [trust: {escape_text(r.trust)}]" if r.trust else ""
        cause = f" [cause: {r.cause}]" if r.cause is not None else ""
        lines.append(
            f"{r.status.upper():<10} {escape_text(r.rule):<12} {where:<14} "
            f"{escape_text(r.message)}{trust}{cause}"
        )
        lines.extend(_evidence_lines(r))
    lines.extend(f"PROBLEM    {escape_text(p)}" for p in report.problems)
    if report.error is not None:
        lines.append(f"ERROR      {escape_text(report.error)}")
    notes = _fix_lines(report)
    legend = trust_legend(
        t for r in report.results for t in (r.trust, *(e.trust for e in r.evidence)) if t
    )
    if legend is not None:
        notes.append(f"trust: {legend}")
    if notes:
        lines += ["", *notes]
    counts = report.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines += ["", f"verdict: {report.verdict.upper()} ({summary or 'no results'})"]
    if report.verdict == "pass" and counts["incomplete"]:
        lines.append(
            f"warning: {counts['incomplete']} result(s) could not be proven from the evidence "
            "(on-incomplete: warn)"
        )
    return "\n".join(lines) + "\n"
