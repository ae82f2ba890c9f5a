"""The --since diff: each kind of change, copies counted once, the same digest shown once."""

from __future__ import annotations

from provcheck.audit.render import change_detail
from provcheck.audit.since import Before, Change, Diff
from provcheck.report.model import Report, RuleResult, Status, Verdict

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def _report(reference: str, status: Status, digest: str) -> Report:
    result = RuleResult("builder", status, None, "m")
    return Report(policy="p", reference=reference, digest=digest, results=(result,))


def test_every_kind_of_change_once_in_order() -> None:
    previous = {
        "a": Before(Verdict.PASS, D1),
        "b": Before(Verdict.FAIL, D1),
        "c": Before(Verdict.PASS, D1),
        "same": Before(Verdict.PASS, D1),
        "gone": Before(Verdict.ERROR, ""),
    }
    diff = Diff(previous, "prev.jsonl")
    for report in (
        _report("new", Status.PASS, D1),
        _report("a", Status.FAIL, D1),
        _report("a", Status.FAIL, D1),  # a copy: one change
        _report("b", Status.PASS, D1),
        _report("c", Status.PASS, D2),
        _report("same", Status.PASS, D1),
    ):
        diff.add(report)
    changes = diff.changes()
    assert [(c.change, c.reference) for c in changes] == [
        (Change.NEWLY_FAILING, "a"),
        (Change.FIXED, "b"),
        (Change.DIGEST_CHANGED, "c"),
        (Change.NEW, "new"),
        (Change.GONE, "gone"),
    ]
    assert change_detail(changes[0]) == "pass -> fail"  # same digest: not repeated
    assert change_detail(changes[2]) == "pass sha256:111111111111 -> pass sha256:222222222222"
    assert change_detail(changes[4]) == "error -> -"
    assert dict(diff.counts())[Change.NEW] == 1
