"""``audit merge`` by ``inputIndex``: the unsharded order from shards given in any order,
files of an older provcheck (no index) joined as given, and shards that cannot be one run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from provcheck.audit.merge import read_shards
from provcheck.audit.render import jsonl_line
from provcheck.errors import UsageError
from provcheck.report.json import parse_report
from provcheck.report.model import Report


def _report(n: int) -> Report:
    return Report.from_error(f"unreachable {n}", reference=f"registry.example/app{n}:1", policy="p")


def _write(path: Path, indices: list[int | None]) -> Path:
    path.write_text("".join(jsonl_line(_report(i or 0), i) for i in indices))
    return path


def _merged(*paths: Path) -> list[tuple[str, int | None]]:
    return [(r.report.reference, r.index) for r in read_shards(list(paths))]


def test_shards_merge_into_input_order(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", [0, 3, 4, 7])
    b = _write(tmp_path / "b.jsonl", [1, 2, 5, 6])
    empty = _write(tmp_path / "empty.jsonl", [])
    expected = [(f"registry.example/app{i}:1", i) for i in range(8)]
    assert _merged(a, b) == expected
    assert _merged(b, empty, a) == expected


def test_the_index_is_read_back_and_not_part_of_the_report() -> None:
    line = jsonl_line(_report(3), 3)
    assert '"inputIndex":3' in line
    assert parse_report(line) == parse_report(jsonl_line(_report(3))) == _report(3)


def test_files_without_an_index_are_joined_in_the_order_given(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", [None, None])
    b = _write(tmp_path / "b.jsonl", [None])
    assert [index for _, index in _merged(b, a)] == [None] * 3


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ([0, 2], [0, 2], "b.jsonl:1: input 0 comes after input 0 of"),  # one shard twice
        ([0, 2], [1, None], "b.jsonl:2: no inputIndex"),
        ([1], [None], "b.jsonl:1: no inputIndex, which the other records have"),
        ([None, 1], [None], "a.jsonl:2: inputIndex in a file that began without one"),
        ([3, 1], [], "a.jsonl:2: input 1 comes after input 3"),
    ],
)
def test_shards_that_are_not_one_runs_are_refused(
    tmp_path: Path, first: list[int | None], second: list[int | None], message: str
) -> None:
    a = _write(tmp_path / "a.jsonl", first)
    b = _write(tmp_path / "b.jsonl", second)
    with pytest.raises(UsageError, match=message):
        _merged(a, b)


def test_a_negative_index_is_not_a_report(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(jsonl_line(_report(1), 1).replace('"inputIndex":1', '"inputIndex":-1'))
    with pytest.raises(UsageError, match=r"a.jsonl:1: report is not a valid .* at /inputIndex"):
        _merged(path)
