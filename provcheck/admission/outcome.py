"""What a review concludes: per image, and as the ``AdmissionReview`` response, the log record
and the JSONPatch that pins the verified digests."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from provcheck.admission.review import API_VERSION, KIND, AdmissionRequest
from provcheck.policy.exemptions import Exemption
from provcheck.report.escape import escape_text
from provcheck.report.model import OnIncomplete, Report, RuleResult, Status, Verdict

MAX_MESSAGE: Final = 4096
"""Longest ``status.message`` (characters); longer ones are cut with a count of what is left."""
MAX_WARNING: Final = 256
"""Longest warning: the API server may truncate longer ones."""
MAX_WARNINGS: Final = 32


class Decision(StrEnum):
    """What the review decided: ``skipped`` when there was nothing to verify (``DELETE``,
    ``CONNECT``, a kind without Pod templates, no image)."""

    ALLOWED = "allowed"
    DENIED = "denied"
    SKIPPED = "skipped"


class ImageStatus(StrEnum):
    """The verdict on one image of a review."""

    VERIFIED = "verified"
    """Verified, and it passes the policy."""
    EXEMPT = "exempt"
    """Allowed unverified by an exemption of the policy."""
    FAILED = "failed"
    """Verified, and it fails the policy."""
    ERROR = "error"
    """Could not be verified (fetch error, bad reference, internal error)."""
    LATE = "late"
    """Not verified within the review's budget (its verification goes on in the background)."""

    @property
    def allowed(self) -> bool:
        """Whether the image may run."""
        return self in (ImageStatus.VERIFIED, ImageStatus.EXEMPT)


@dataclass(frozen=True, slots=True)
class ImageResult:
    """One distinct image of a review: ``image`` as written, ``paths`` the JSON pointers of the
    fields that name it, ``digest`` the digest verified (``None`` when none was), ``pinned``
    whether the image names a digest, ``failed`` the rules that failed, ``detail`` why it is
    denied (one line), ``warnings`` what the response warns about it."""

    image: str
    paths: tuple[str, ...]
    status: ImageStatus
    digest: str | None = None
    pinned: bool = False
    failed: tuple[str, ...] = ()
    detail: str = ""
    warnings: tuple[str, ...] = ()
    exemption: Exemption | None = None


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """The answer to one review: ``response`` the whole ``AdmissionReview`` to send back, ``log``
    one structured record of it (no secrets), ``decision`` what was decided."""

    response: Mapping[str, Any]
    log: Mapping[str, Any]
    decision: Decision


def _failing(result: RuleResult, on_incomplete: OnIncomplete) -> bool:
    if result.status is Status.INCOMPLETE:
        return on_incomplete is OnIncomplete.FAIL
    return result.status in (Status.FAIL, Status.ERROR)


def _fix(result: RuleResult) -> str:
    fixes = dict.fromkeys(e.remediation for e in result.evidence if e.remediation)
    return f" (fix: {'; '.join(fixes)})" if fixes else ""


def _where(result: RuleResult) -> str:
    return f" [{result.platform}]" if result.platform else ""


def from_report(image: str, paths: tuple[str, ...], pinned: bool, report: Report) -> ImageResult:
    """The result of ``image`` from its verification ``report`` (an ``error`` report denies)."""
    shown = escape_text(image)
    if report.verdict is Verdict.ERROR and not report.results:
        why = escape_text(report.error or "; ".join(report.problems) or "no evaluation")
        return ImageResult(image, paths, ImageStatus.ERROR, detail=f"{shown}: not verified: {why}")
    failing = [r for r in report.results if _failing(r, report.on_incomplete)]
    warned = [r for r in report.results if r.status is Status.INCOMPLETE and r not in failing]
    warnings = tuple(
        f"{shown}: {r.rule}{_where(r)} {r.status}: {escape_text(r.message)}" for r in warned
    )
    digest = report.digest or None
    if report.verdict is Verdict.PASS and not failing:
        return ImageResult(image, paths, ImageStatus.VERIFIED, digest, pinned, warnings=warnings)
    status = ImageStatus.ERROR if report.verdict is Verdict.ERROR else ImageStatus.FAILED
    reasons = [
        f"{r.rule}{_where(r)} {r.status}: {escape_text(r.message)}{escape_text(_fix(r))}"
        for r in failing
    ] or [f"verdict {report.verdict}"]
    rules = tuple(dict.fromkeys(r.rule for r in failing))
    detail = f"{shown} ({digest or 'no digest'}): " + "; ".join(reasons)
    return ImageResult(image, paths, status, digest, pinned, rules, detail, warnings)


def _status_message(denied: Sequence[ImageResult], total: int) -> str:
    head = f"provcheck denied {len(denied)} of {total} image(s): "
    text = head + " | ".join(result.detail for result in denied)
    if len(text) <= MAX_MESSAGE:
        return text
    return text[: MAX_MESSAGE - 40] + f"… ({len(text) - MAX_MESSAGE + 40} more characters)"


def _warnings(results: Sequence[ImageResult]) -> list[str]:
    found = [w for r in results for w in r.warnings]
    cut = [w if len(w) <= MAX_WARNING else w[: MAX_WARNING - 1] + "…" for w in found]
    if len(cut) > MAX_WARNINGS:
        cut = [*cut[: MAX_WARNINGS - 1], f"… and {len(cut) - MAX_WARNINGS + 1} more warnings"]
    return cut


def _patch(results: Sequence[ImageResult]) -> list[dict[str, str]]:
    return [
        {"op": "replace", "path": path, "value": f"{r.image}@{r.digest}"}
        for r in results
        if r.status is ImageStatus.VERIFIED and not r.pinned and r.digest
        for path in r.paths
    ]


def build_outcome(
    request: AdmissionRequest,
    results: Sequence[ImageResult],
    *,
    mutate: bool,
    duration_ms: float,
) -> ReviewOutcome:
    """The response, log record and decision for ``request`` given its image ``results``.

    Allowed when every image is allowed (and, with ``mutate``, a JSONPatch pins every verified
    image that names no digest); denied with ``status`` 403 and a message naming each denied
    image, its failed rules and their fixes; ``skipped`` (allowed) when there were no images.
    """
    denied = [r for r in results if not r.status.allowed]
    decision = Decision.DENIED if denied else Decision.ALLOWED
    if not results:
        decision = Decision.SKIPPED
    response: dict[str, Any] = {"uid": request.uid, "allowed": decision is not Decision.DENIED}
    if denied:
        response["status"] = {"code": 403, "message": _status_message(denied, len(results))}
    warnings = _warnings(results)
    if warnings:
        response["warnings"] = warnings
    ops = _patch(results) if mutate and not denied else []
    if ops:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode("ascii")
    log = {
        "uid": request.uid,
        "namespace": request.namespace,
        "name": request.name,
        "kind": request.kind,
        "operation": str(request.operation),
        "sub_resource": request.sub_resource or None,
        "dry_run": request.dry_run,
        "mutate": mutate,
        "verdict": str(decision),
        "duration_ms": round(duration_ms, 3),
        "images": [
            {
                "image": r.image,
                "digest": r.digest,
                "verdict": str(r.status),
                "rules_failed": list(r.failed),
            }
            for r in results
        ],
        "exemptions": [
            {
                "exemption": r.exemption.label,
                "image": r.image,
                "reason": r.exemption.reason,
                "expires": r.exemption.expires.isoformat(),
            }
            for r in results
            if r.exemption is not None
        ],
        "patched": len(ops),
    }
    return ReviewOutcome(
        {"apiVersion": API_VERSION, "kind": KIND, "response": response}, log, decision
    )
