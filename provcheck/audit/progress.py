"""Progress of an audit on stderr: a bar (tqdm) on a terminal, a plain line every
``every`` images or ``interval`` seconds otherwise (a CI log), nothing when quiet."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Final, Protocol, TextIO

from provcheck.report.model import Report, Verdict

INTERVAL: Final = 5.0
"""Seconds between plain lines at most (when images keep coming)."""


class Progress(Protocol):
    def show(self, report: Report, emit: Callable[[], object]) -> None:
        """Count ``report``, around ``emit`` (which writes its part of the output)."""

    def close(self) -> None: ...


class _Silent:
    def show(self, report: Report, emit: Callable[[], object]) -> None:
        emit()

    def close(self) -> None:
        pass


def _counts(tally: Counter[Verdict]) -> str:
    return ", ".join(f"{tally[v]} {v.value}" for v in Verdict)


class _Lines:
    def __init__(
        self, total: int | None, stream: TextIO, every: int, clock: Callable[[], float]
    ) -> None:
        self._total, self._stream, self._every, self._clock = total, stream, every, clock
        self._tally: Counter[Verdict] = Counter()
        self._last = clock()

    def show(self, report: Report, emit: Callable[[], object]) -> None:
        emit()
        self._tally[report.verdict] += 1
        done = sum(self._tally.values())
        now = self._clock()
        if done % self._every and done != self._total and now - self._last < INTERVAL:
            return
        self._last = now
        of = f"/{self._total}" if self._total is not None else ""
        print(f"provcheck: audited {done}{of} images ({_counts(self._tally)})", file=self._stream)
        self._stream.flush()

    def close(self) -> None:
        pass


class _Bar:
    """A tqdm bar; cleared while a part is written when the output is on the same terminal."""

    def __init__(self, total: int | None, stream: TextIO, shared: bool) -> None:
        from tqdm import tqdm  # only the audit command imports it (~10 ms on top of it)

        self._tally: Counter[Verdict] = Counter()
        self._shared = shared
        self._bar = tqdm(total=total, file=stream, unit="image", dynamic_ncols=True, leave=False)

    def show(self, report: Report, emit: Callable[[], object]) -> None:
        if self._shared:
            self._bar.clear()
        emit()
        self._tally[report.verdict] += 1
        self._bar.set_postfix_str(_counts(self._tally), refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def progress(
    total: int | None,
    stream: TextIO,
    *,
    quiet: bool = False,
    shared: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """The progress of an audit of ``total`` images (``None``: not known) on ``stream``;
    ``shared``: the output goes to the same terminal (it must be flushed by ``emit``)."""
    if quiet:
        return _Silent()
    if stream.isatty():
        return _Bar(total, stream, shared)
    every = min(100, max(1, (total or 1000) // 10))
    return _Lines(total, stream, every, clock)
