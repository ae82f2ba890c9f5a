"""``provcheck audit merge``: the reports of shards' JSONL outputs, shards in the order given."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from provcheck.errors import DocumentError, UsageError
from provcheck.report.json import parse_report
from provcheck.report.model import Report

MAX_LINE_BYTES: Final = 64 * 1024 * 1024


def read_shards(paths: Sequence[Path]) -> Iterator[Report]:
    """Every report of every file, in order; a line that is not a report is a
    :class:`UsageError` naming ``file:line`` (blank lines are skipped)."""
    for path in paths:
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the shard: {exc.strerror or exc}") from exc
        with handle:
            number = 0
            while line := handle.readline(MAX_LINE_BYTES + 1):
                number += 1
                if len(line) > MAX_LINE_BYTES:
                    raise UsageError(f"{path}:{number}: line longer than {MAX_LINE_BYTES} bytes")
                if not line.strip():
                    continue
                try:
                    yield parse_report(line)
                except DocumentError as exc:
                    raise UsageError(f"{path}:{number}: {exc.diagnostics()}") from exc
