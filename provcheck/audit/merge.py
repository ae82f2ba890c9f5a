"""``provcheck audit merge``: the reports of shards' JSONL outputs, in the unsharded run's order.

Every JSONL record of an audit carries ``inputIndex``, its position in the audit's whole input
(before ``--shard`` chose a part of it), so the shards of one run merge back into exactly the
order of one unsharded run: one record of each shard is held at a time. Files written before
``inputIndex`` existed have none: they are joined in the order given.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Final

from provcheck.errors import DocumentError, UsageError
from provcheck.report.json import INPUT_INDEX, report_from_dict
from provcheck.report.model import Report

MAX_LINE_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    """One JSONL line: its report, its ``inputIndex`` (``None`` in an older file), and where it
    was read (``path:line``, for messages)."""

    report: Report
    index: int | None
    where: str


def read_records(path: Path) -> Iterator[Record]:
    """Every record of ``path``, in order; a line that is not a report is a
    :class:`UsageError` naming ``file:line`` (blank lines are skipped)."""
    from provcheck._internal.documents import load_document

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the shard: {exc.strerror or exc}") from exc
    with handle:
        number = 0
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            where = f"{path}:{number}"
            if len(line) > MAX_LINE_BYTES:
                raise UsageError(f"{where}: line longer than {MAX_LINE_BYTES} bytes")
            if not line.strip():
                continue
            try:
                doc = load_document(line, "report")
                report = report_from_dict(doc)  # checks inputIndex: an integer >= 0 or absent
            except DocumentError as exc:
                raise UsageError(f"{where}: {exc.diagnostics()}") from exc
            index = doc.get(INPUT_INDEX)
            yield Record(report, index if isinstance(index, int) else None, where)


def read_shards(paths: Sequence[Path]) -> Iterator[Record]:
    """The records of every file in the unsharded run's order: merged by ``inputIndex`` when
    the files carry it, else file after file in the order given.

    Raises :class:`UsageError` naming ``file:line`` for a line that is not a report, a file
    with and one without ``inputIndex``, and an index out of order or seen twice (a shard given
    twice, or shards of different runs).
    """
    streams = [_peeked(read_records(path)) for path in paths]
    firsts = [first for first, _ in streams if first is not None]
    if not any(first.index is not None for first in firsts):
        for first, rest in streams:
            if first is not None:
                yield first
                yield from _unindexed(rest)
        return
    indexed = [_indexed(first, rest) for first, rest in streams if first is not None]
    previous: Record | None = None
    for record in heapq.merge(*indexed, key=_index_of):
        if previous is not None and _index_of(record) <= _index_of(previous):
            raise UsageError(
                f"{record.where}: input {record.index} comes after input {previous.index} of "
                f"{previous.where}: give each shard of one run once"
            )
        yield record
        previous = record


def _index_of(record: Record) -> int:
    assert record.index is not None, "checked by _indexed"
    return record.index


def _peeked(records: Iterator[Record]) -> tuple[Record | None, Iterator[Record]]:
    return next(records, None), records


def _unindexed(records: Iterator[Record]) -> Iterator[Record]:
    for record in records:
        if record.index is not None:
            raise UsageError(f"{record.where}: inputIndex in a file that began without one")
        yield record


def _indexed(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    for record in chain((first,), rest):
        if record.index is None:
            raise UsageError(f"{record.where}: no inputIndex, which the other records have")
        yield record
