"""Plain progress lines: every 10% of the images (at most 100), or when INTERVAL passed."""

from __future__ import annotations

import io

from provcheck.audit.progress import INTERVAL, progress
from provcheck.report.model import Report, RuleResult, Status


def _report() -> Report:
    result = RuleResult("builder", Status.PASS, None, "ok")
    return Report(
        policy="p", reference="r.example/a:1", digest="sha256:" + "0" * 64, results=(result,)
    )


def test_a_line_every_tenth_and_when_the_interval_passed() -> None:
    now = [0.0]
    stream = io.StringIO()
    shown = progress(1000, stream, clock=lambda: now[0])
    emitted: list[int] = []
    for i in range(250):
        if i == 150:
            now[0] += INTERVAL  # a slow stretch: a line although no multiple of 100 was reached
        shown.show(_report(), lambda: emitted.append(1))
    lines = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["100/1000", "151/1000", "200/1000"]
    assert len(emitted) == 250


def test_quiet_shows_nothing_but_emits() -> None:
    stream = io.StringIO()
    shown = progress(3, stream, quiet=True)
    emitted: list[int] = []
    for _ in range(3):
        shown.show(_report(), lambda: emitted.append(1))
    assert stream.getvalue() == "" and len(emitted) == 3
