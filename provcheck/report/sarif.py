"""SARIF 2.1.0 for GitHub code scanning.

There is no source file, so each result's location is the image: ``physicalLocation
.artifactLocation.uri`` = ``oci://<reference>`` (GitHub requires a physical location), plus a
logical location naming the platform. Only results that are not ``pass`` are emitted;
``properties`` carry the platform, status and evidence pointers. What GitHub shows (the message
and the location names) passes through :func:`escape_text`, as in the text report.
"""

from __future__ import annotations

import json
from typing import Any, Final

from provcheck import __version__
from provcheck.report.escape import escape_surrogates, escape_text
from provcheck.report.model import Report, RuleResult, Status

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL: Final = {
    Status.FAIL: "error",
    Status.ERROR: "error",
    Status.INCOMPLETE: "warning",
    Status.SKIP: "note",
    Status.PASS: "none",
}
RULE_HELP: Final = {
    "provenance": "Every platform image has SLSA provenance bound to it.",
    "platforms": "The image provides the required platforms.",
    "frontend": "The Dockerfile frontend that ran is approved.",
    "build-args": "No secret is passed as a build argument.",
    "base-images": "The build started from approved base images.",
    "builder": "The builder id is approved.",
    "signatures": "Attestations bound to the image are signed by a trusted key or identity.",
    "sbom": "Every platform image has an SBOM, with no denied package or licence.",
}


def _uri(reference: str) -> str:
    return reference if "://" in reference else f"oci://{reference}"


def _result(r: RuleResult, report: Report) -> dict[str, Any]:
    where = r.platform or "image"
    level = (
        "warning"
        if r.status is Status.INCOMPLETE and report.on_incomplete.value == "warn"
        else _LEVEL[r.status]
    )
    return {
        "ruleId": r.rule,
        "level": level,
        "message": {"text": escape_text(f"[{where}] {r.message}")},
        "locations": [
            {
                # GitHub shows a result only with a region; an image has no lines, so line 1.
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(report.reference)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {
                        "name": escape_text(where),
                        "fullyQualifiedName": escape_text(
                            f"{report.reference}@{report.digest}#{where}"
                        ),
                        "kind": "object",
                    }
                ],
            }
        ],
        "partialFingerprints": {
            "provcheck/v1": f"{report.digest}:{r.rule}:{r.platform or ''}:{r.status.value}"
        },
        "properties": {
            "platform": r.platform,
            "status": r.status.value,
            "evidence": [
                {
                    "source": e.source,
                    "pointer": e.pointer,
                    "value": e.value,
                    "remediation": e.remediation,
                    **({"trust": e.trust} if e.trust is not None else {}),
                }
                for e in r.evidence
            ],
            **({"trust": r.trust} if r.trust is not None else {}),
            **({"cause": r.cause.value} if r.cause is not None else {}),
        },
    }


def _invocation(report: Report) -> dict[str, Any]:
    """``executionSuccessful`` false, with the error as a notification, for an error report."""
    if report.error is None:
        return {"executionSuccessful": True}
    return {
        "executionSuccessful": False,
        "toolExecutionNotifications": [{"level": "error", "message": {"text": report.error}}],
    }


def sarif_run(report: Report) -> dict[str, Any]:
    """The one SARIF run of a report: one rule per policy rule, one result per non-pass."""
    rule_ids = sorted({r.rule for r in report.results})
    return {
        "tool": {
            "driver": {
                "name": "provcheck",
                "version": __version__,
                "rules": [
                    {
                        "id": rid,
                        "name": rid,
                        "shortDescription": {"text": RULE_HELP.get(rid, rid)},
                        "defaultConfiguration": {"level": "error"},
                    }
                    for rid in rule_ids
                ],
            }
        },
        "automationDetails": {"id": f"provcheck/{report.policy}/"},
        "invocations": [_invocation(report)],
        "results": [_result(r, report) for r in report.results if r.status is not Status.PASS],
        "properties": {
            "verdict": report.verdict.value,
            "policy": report.policy,
            "digest": report.digest,
        },
    }


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0 JSON with one run (:func:`sarif_run`)."""
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [sarif_run(report)]}
    return escape_surrogates(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"
