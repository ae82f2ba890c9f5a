"""provcheck.policy.history: BuildKit's ARG and RUN |N history records, item by item."""

from __future__ import annotations

import pytest

from provcheck.policy.history import (
    DeclaredArgs,
    arg_record,
    dockerfile_arg_names,
    history_records,
    run_record,
)
from tests.unit.policy.test_build_args_history import _history


@pytest.mark.parametrize(
    ("body", "pairs"),
    [
        ("VERSION=1.0.0", [("VERSION", "1.0.0")]),
        ("VERSION", []),
        ("GREETING DB_PASSWORD", []),
        ("A=x y B=z", [("A", "x y"), ("B", "z")]),
        ("A=1 A=2", [("A", "1 A=2")]),
        ("DB_PASSWORD=a b TOKEN=c", [("DB_PASSWORD", "a b"), ("TOKEN", "c")]),
        ("URL=https://h/?a=b c=d", [("URL", "https://h/?a=b"), ("c", "d")]),
    ],
)
def test_arg_record(body: str, pairs: list[tuple[str, str]]) -> None:
    assert arg_record(body) == pairs


@pytest.mark.parametrize(
    ("created_by", "pairs"),
    [
        ("RUN |2 A=1 B=x y /bin/sh -c echo", [("A", "1"), ("B", "x y")]),
        ("RUN |2 A= B= /bin/sh -c echo", [("A", ""), ("B", "")]),
        ("RUN |1 A=1 /bin/sh -c B=2 make", [("A", "1")]),
        ("RUN |1 A=x y make", [("A", "x")]),
        ("RUN /bin/sh -c TOKEN=abc make", []),
        ("COPY a b # buildkit", []),
        ("RUN |2 A=1", []),
    ],
)
def test_run_record(created_by: str, pairs: list[tuple[str, str]]) -> None:
    assert run_record(created_by) == pairs


def test_run_record_uses_the_image_shell() -> None:
    config = {
        "config": {"Shell": ["/bin/bash", "-o", "pipefail", "-c"]},
        "history": _history(["RUN |1 A=x y /bin/bash -o pipefail -c make"]),
    }
    (record,) = history_records(config, DeclaredArgs()).records
    assert record.args == (("A", "x y"),)


def test_dockerfile_arg_names() -> None:
    text = (
        '# escape=`\nFROM scratch\nARG A="x y" `\n  B\n# comment\narg C\nRUN echo ARG D\n'
        "ARG 'E=unbalanced\n"
    )
    assert dockerfile_arg_names(text) == (("A", "B"), ("C",), ("'E",))


def test_arg_record_prefers_the_longest_fitting_instruction() -> None:
    instructions = (("A",), ("A", "B"))
    assert arg_record("A=1 B=x y", instructions) == [("A", "1"), ("B", "x y")]
    assert arg_record("A=1 B=x y", (("A",),)) == [("A", "1 B=x y")]
