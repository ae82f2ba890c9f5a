"""The JSON report (schema: ``report.schema.json``, ``schemaVersion`` provcheck.report/v1).

:func:`report_to_dict` is the one serialisation of a :class:`Report`: what :func:`render_json`
writes, what an audit's JSONL holds and a verdict cache stores; :func:`report_from_dict` (and
:func:`parse_report`) read it back to an equal report, whose rendering is byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from provcheck._internal.documents import check_document, load_document
from provcheck.errors import DocumentError
from provcheck.report.causes import Cause
from provcheck.report.escape import escape_surrogates
from provcheck.report.model import (
    SCHEMA_VERSION,
    Evidence,
    OnIncomplete,
    Report,
    RuleResult,
    Status,
    Verdict,
)

INPUT_INDEX: Final = "inputIndex"
"""The field an audit's JSONL record adds to the report: its position (from 0) in the audit's
whole input, before ``--shard`` chose part of it; ``audit merge`` orders shards by it."""


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
        **({"cause": r.cause.value} if r.cause is not None else {}),
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (what :func:`render_json` serialises); raises nothing."""
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


def render_json(report: Report, *, compact: bool = False) -> str:
    """Serialise the report: stable key order, two-space indent, trailing newline; strings as
    they are (lone surrogates escaped, so the document is always valid UTF-8). ``compact``: one
    line without indentation (a JSONL record; newlines inside strings are escaped)."""
    text = json.dumps(
        report_to_dict(report),
        indent=None if compact else 2,
        separators=(",", ":") if compact else None,
        ensure_ascii=False,
    )
    return escape_surrogates(text) + "\n"


def _evidence_from(data: dict[str, Any]) -> Evidence:
    source, pointer = data.pop("source"), data.pop("pointer")
    value, remediation = data.pop("value"), data.pop("remediation")
    return Evidence(source, pointer, value, remediation, data.pop("trust", None))


def _result_from(data: dict[str, Any]) -> RuleResult:
    return RuleResult(
        rule=data.pop("rule"),
        status=Status(data.pop("status")),
        platform=data.pop("platform"),
        message=data.pop("message"),
        evidence=tuple(_evidence_from(dict(e)) for e in data.pop("evidence")),
        trust=data.pop("trust", None),
        cause=Cause(data.pop("cause")) if "cause" in data else None,
    )


def report_from_dict(data: Mapping[str, Any]) -> Report:
    """The report a :func:`report_to_dict` document describes (``data`` is not modified).

    Raises :class:`~provcheck.errors.SchemaVersionError` for another ``schemaVersion``, and
    :class:`~provcheck.errors.DocumentError` when the document does not match the schema or its
    ``verdict`` or ``summary`` is not the one its results give (a document that contradicts
    itself is never trusted for either).
    """
    check_document(
        data,
        version=SCHEMA_VERSION,
        package="provcheck.report",
        schema="report.schema.json",
        what="report",
    )
    doc = dict(data)  # the schema admits no other fields: every one is popped here
    del doc["schemaVersion"]
    doc.pop(INPUT_INDEX, None)  # where an audit record stood in its input: not the report's
    verdict, summary, subject = doc.pop("verdict"), doc.pop("summary"), doc.pop("subject")
    report = Report(
        policy=doc.pop("policy"),
        reference=subject["reference"],
        digest=subject["digest"] or "",  # null: an audit's error report
        results=tuple(_result_from(dict(r)) for r in doc.pop("results")),
        on_incomplete=OnIncomplete(doc.pop("onIncomplete")),
        problems=tuple(doc.pop("problems")),
        error=doc.pop("error", None),
    )
    if report.verdict is not Verdict(verdict):
        raise DocumentError(
            f"report: verdict {verdict!r} is not {report.verdict.value!r}, which its results give"
        )
    if report.counts() != summary:
        raise DocumentError("report: summary does not count its results")
    return report


def parse_report(data: str | bytes) -> Report:
    """A report from its JSON text (one line of an audit's JSONL, :func:`render_json` output).

    Raises :class:`~provcheck.errors.DocumentError` (or its subclass
    :class:`~provcheck.errors.SchemaVersionError`) when it is not one.
    """
    return report_from_dict(load_document(data, "report"))
