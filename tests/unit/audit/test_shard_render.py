"""The documented shard hash, CSV cells that a spreadsheet cannot run, the totals line."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from provcheck.audit.render import csv_cell, totals_line
from provcheck.audit.shard import Shard, shard_of
from provcheck.errors import UsageError
from provcheck.report import Verdict


def test_the_shard_hash_is_the_documented_one() -> None:
    ref = "registry.example/shop/app:0.3.1"
    expected = int.from_bytes(hashlib.sha256(ref.encode()).digest()[:8], "big")
    for n in (1, 2, 3, 7, 1000):
        assert shard_of(ref, n) == expected % n
    # a value pinned here, so that the README's promise cannot drift
    assert (
        shard_of("docker.io/library/alpine:3.20", 4)
        == int(hashlib.sha256(b"docker.io/library/alpine:3.20").hexdigest()[:16], 16) % 4
    )


def test_shards_partition_the_inputs() -> None:
    refs = [f"registry.example/app{i}:1" for i in range(200)]
    parts = [Shard(k, 3).select(refs) for k in range(3)]
    assert sorted(ref for part in parts for ref in part) == sorted(refs)
    assert all(parts)


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1/0", "a/b", "1", "1/2/3", ""])
def test_bad_shards(text: str) -> None:
    with pytest.raises(UsageError, match="invalid shard"):
        Shard.parse(text)


def test_csv_cells_that_start_a_formula_get_a_quote() -> None:
    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert [csv_cell(v) for v in ("+1", "-1", "@SUM(A1)", "\tx")] == [
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\\tx",
    ]
    assert csv_cell("registry.example/a:1") == "registry.example/a:1"


def test_the_totals_line_counts_images_in_words() -> None:
    one: Counter[Verdict] = Counter({Verdict.PASS: 1})
    many: Counter[Verdict] = Counter({Verdict.PASS: 1, Verdict.ERROR: 2})
    assert totals_line(one) == "1 image: 1 pass, 0 fail, 0 error"
    assert totals_line(many) == "3 images: 1 pass, 0 fail, 2 error"
