"""The JSON report (schema: ``report.schema.json``, ``schemaVersion`` provcheck.report/v1)."""

from __future__ import annotations

import json
from typing import Any

from provcheck.report.escape import escape_surrogates
from provcheck.report.model import SCHEMA_VERSION, Evidence, Report, RuleResult


def _evidence(e: Evidence) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": e.source,
        "pointer": e.pointer,
        "value": e.value,
        "remediation": e.remediation,
    }
    if e.trust is not None:  # optional, so reports without attestations stay unchanged
        out["trust"] = e.trust
    return out


def _result(r: RuleResult) -> dict[str, Any]:
    return {
        "rule": r.rule,
        "status": r.status.value,
        "platform": r.platform,
        "message": r.message,
        "evidence": [_evidence(e) for e in r.evidence],
        **({"trust": r.trust} if r.trust is not None else {}),
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (what :func:`render_json` serialises)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "verdict": report.verdict.value,
        "policy": report.policy,
        "onIncomplete": report.on_incomplete.value,
        "subject": {"reference": report.reference, "digest": report.digest},
        "summary": report.counts(),
        "results": [_result(r) for r in report.results],
        "problems": list(report.problems),
        **({"error": report.error} if report.error is not None else {}),
    }


def render_json(report: Report) -> str:
    """Serialise the report: stable key order, two-space indent, trailing newline; strings as
    they are (lone surrogates escaped, so the document is always valid UTF-8)."""
    return (
        escape_surrogates(json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)) + "\n"
    )
