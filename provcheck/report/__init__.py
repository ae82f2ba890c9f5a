"""Reports: the evaluation as data, and its text, JSON, SARIF and JUnit renderings.

The model's names are imported on first use: a submodule (such as
:mod:`provcheck.report.redaction`, which the provenance view uses) can be imported without the
report model.
"""

from __future__ import annotations

import typing
from enum import StrEnum
from typing import assert_never

from provcheck._internal.lazy import lazy_exports

if typing.TYPE_CHECKING:
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

_LAZY: typing.Final[dict[str, str]] = {
    "SCHEMA_VERSION": "provcheck.report.model",
    "Evidence": "provcheck.report.model",
    "OnIncomplete": "provcheck.report.model",
    "Report": "provcheck.report.model",
    "RuleResult": "provcheck.report.model",
    "Status": "provcheck.report.model",
    "Verdict": "provcheck.report.model",
    "redact": "provcheck.report.redaction",
}
"""Where each name lives (the imports above, for type checkers, say the same)."""


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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__, globals())
