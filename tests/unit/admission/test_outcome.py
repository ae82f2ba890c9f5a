"""Building the AdmissionReview response: long messages and many warnings are bounded, a denied
review has no patch, a skipped one is allowed."""

from __future__ import annotations

from provcheck.admission.outcome import (
    MAX_MESSAGE,
    MAX_WARNING,
    MAX_WARNINGS,
    Decision,
    ImageResult,
    ImageStatus,
    build_outcome,
)
from provcheck.admission.review import AdmissionRequest, Operation
from provcheck.audit.workloads import ContainerImage


def _request(count: int) -> AdmissionRequest:
    images = tuple(
        ContainerImage(f"/spec/containers/{i}/image", f"r.example/a/i{i}:1") for i in range(count)
    )
    return AdmissionRequest("u-1", "Pod", Operation.CREATE, "ns", "web", "", False, images)


def test_a_long_deny_message_is_cut_and_says_so() -> None:
    request = _request(200)
    results = [
        ImageResult(i.image, (i.path,), ImageStatus.FAILED, "sha256:" + "a" * 64, detail="x" * 300)
        for i in request.images
    ]
    outcome = build_outcome(request, results, mutate=True, duration_ms=1.0)
    inner = outcome.response["response"]
    assert outcome.decision is Decision.DENIED and inner["allowed"] is False
    message = inner["status"]["message"]
    assert len(message) <= MAX_MESSAGE and message.endswith("more characters)")
    assert "patch" not in inner


def test_warnings_are_bounded_in_length_and_number() -> None:
    request = _request(40)
    results = [
        ImageResult(
            i.image, (i.path,), ImageStatus.VERIFIED, "sha256:" + "b" * 64, warnings=("w" * 999,)
        )
        for i in request.images
    ]
    inner = build_outcome(request, results, mutate=False, duration_ms=1.0).response["response"]
    warnings = inner["warnings"]
    assert len(warnings) == MAX_WARNINGS and warnings[-1] == "… and 9 more warnings"
    assert all(len(w) <= MAX_WARNING for w in warnings)


def test_no_images_is_skipped_and_allowed() -> None:
    outcome = build_outcome(_request(0), [], mutate=True, duration_ms=0.5)
    assert outcome.decision is Decision.SKIPPED
    assert outcome.response["response"] == {"uid": "u-1", "allowed": True}
