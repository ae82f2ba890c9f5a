"""Reading a hostile history is linear and capped: work counted in operations, not seconds.

A history of N ``ARG`` records against a Dockerfile of N ``ARG`` instructions used to try every
instruction for every record (N² fits, and a regex compiled per fit); now each record tries only
the instructions that share its first name, and nothing is compiled per name. Past
:data:`MAX_HISTORY_RECORDS` records, or :data:`MAX_FIT_WORK` characters of fits, the
``build-args`` rule says ``incomplete`` with the reason, never ``pass``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from provcheck.policy import history
from provcheck.policy.history import (
    MAX_FIT_WORK,
    MAX_HISTORY_RECORDS,
    DeclaredArgs,
    dockerfile_arg_names,
    history_records,
)
from provcheck.report import Status
from tests.unit.policy.test_build_args_history import _build_args, _history

N = 2_000


class _Counts:
    def __init__(self) -> None:
        self.fits = 0
        self.compiles = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> _Counts:
    """Counts instruction fits tried and regexes compiled while the test runs."""
    out = _Counts()
    fit, compile_ = history._split_at_names, re.compile

    def counting_fit(body: str, names: Sequence[str]) -> list[tuple[str, str | None]] | None:
        out.fits += 1
        return fit(body, names)

    def counting_compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
        out.compiles += 1
        return compile_(pattern, flags)

    monkeypatch.setattr(history, "_split_at_names", counting_fit)
    monkeypatch.setattr(re, "compile", counting_compile)
    return out


def _config(records: Sequence[str]) -> dict[str, Any]:
    return {"config": {}, "history": _history(records)}


def test_each_record_tries_only_the_instructions_of_its_first_name(counts: _Counts) -> None:
    dockerfile = "FROM scratch\n" + "".join(f"ARG V{i} W{i}\n" for i in range(N))
    declared = DeclaredArgs(dockerfile_arg_names(dockerfile))
    reading = history_records(_config([f"ARG V{i}=a b W{i}=c" for i in range(N)]), declared)
    assert reading.unread is None
    assert [r.args for r in reading.records[:2]] == [
        (("V0", "a b"), ("W0", "c")),
        (("V1", "a b"), ("W1", "c")),
    ]
    assert counts.fits == N  # was N * (N + 1) / 2: every instruction, longest first
    assert counts.compiles <= 3  # the shells, once per history (was one per fit)


def test_past_the_record_cap_the_rule_is_incomplete_not_pass() -> None:
    assert _build_args("d-secret-mount", []).status is Status.PASS
    harmless = ["ARG VERSION=1"] * MAX_HISTORY_RECORDS
    result = _build_args("d-secret-mount", [*harmless, "ARG DB_PASSWORD=s3cr3t-value"])
    assert result.status is Status.INCOMPLETE
    assert "history records not read" in result.message
    assert f"(at most {MAX_HISTORY_RECORDS} are)" in result.message


def test_many_instructions_of_one_first_name_exhaust_the_fit_budget(counts: _Counts) -> None:
    dockerfile = "FROM scratch\n" + "".join(f"ARG A B{i}\n" for i in range(N))
    records = [f"ARG A=x B{i}=y" for i in range(N)]
    reading = history_records(_config(records), DeclaredArgs(dockerfile_arg_names(dockerfile)))
    assert reading.unread is not None and f"over {MAX_FIT_WORK} characters" in reading.unread
    shortest = min(len(r) for r in records)
    assert counts.fits * shortest <= MAX_FIT_WORK
    assert 0 < len(reading.records) < N
    result = _build_args("d-secret-mount", records, dockerfile)
    assert result.status is Status.INCOMPLETE
    assert "matching them against the Dockerfile's ARG instructions" in result.message


def test_a_secret_found_before_the_cap_still_fails() -> None:
    harmless = ["ARG VERSION=1"] * MAX_HISTORY_RECORDS
    result = _build_args("d-secret-mount", ["ARG DB_PASSWORD=s3cr3t-value", *harmless])
    assert result.status is Status.FAIL
    assert result.message.endswith(": DB_PASSWORD")
