"""Reports: the evaluation as data, and its text, JSON, SARIF and JUnit renderings."""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never

from provcheck.report.model import (
    SCHEMA_VERSION,
    Evidence,
    OnIncomplete,
    Report,
    RuleResult,
    Status,
    Verdict,
)
from provcheck.report.redaction import redact


class ReportFormat(StrEnum):
    """``--format`` values."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


def render(report: Report, fmt: ReportFormat) -> str:
    """Render ``report`` in ``fmt``. Secrets are already redacted in the report's evidence.
    Raises nothing: every report, an error report too, has each rendering."""
    if fmt is ReportFormat.TEXT:
        from provcheck.report.text import render_text

        return render_text(report)
    if fmt is ReportFormat.JSON:
        from provcheck.report.json import render_json

        return render_json(report)
    if fmt is ReportFormat.SARIF:
        from provcheck.report.sarif import render_sarif

        return render_sarif(report)
    if fmt is ReportFormat.JUNIT:
        from provcheck.report.junit import render_junit

        return render_junit(report)
    assert_never(fmt)


__all__ = [
    "SCHEMA_VERSION",
    "Evidence",
    "OnIncomplete",
    "Report",
    "ReportFormat",
    "RuleResult",
    "Status",
    "Verdict",
    "redact",
    "render",
]
