"""A plain-text report for terminals and logs."""

from __future__ import annotations

from provcheck.report.model import Report


def render_text(report: Report) -> str:
    """One line per result, evidence indented beneath it, the verdict last."""
    lines = [
        f"image:  {report.reference}",
        f"digest: {report.digest}",
        f"policy: {report.policy} (on-incomplete: {report.on_incomplete})",
        "",
    ]
    for r in report.results:
        where = r.platform or "image"
        trust = f" [trust: {r.trust}]" if r.trust else ""
        lines.append(f"{r.status.upper():<10} {r.rule:<12} {where:<14} {r.message}{trust}")
        fixes: list[str] = []
        for e in r.evidence:
            sep = "" if "#" in e.source or not e.pointer else "#"
            detail = f"{e.source}{sep}{e.pointer}"
            if e.value is not None:
                detail += f" = {e.value}"
            if e.trust is not None:
                detail += f" [{e.trust}]"
            lines.append(f"           - {detail}")
            if e.remediation and r.status.value != "pass" and e.remediation not in fixes:
                fixes.append(e.remediation)
        lines.extend(f"           fix: {fix}" for fix in fixes)
    lines.extend(f"PROBLEM    {p}" for p in report.problems)
    if report.error is not None:
        lines.append(f"ERROR      {report.error}")
    counts = report.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines += ["", f"verdict: {report.verdict.upper()} ({summary or 'no results'})"]
    if report.verdict == "pass" and counts["incomplete"]:
        lines.append(
            f"warning: {counts['incomplete']} result(s) could not be proven from the evidence "
            "(on-incomplete: warn)"
        )
    return "\n".join(lines) + "\n"
