"""Single-flight: concurrent requests for one key share one run, and (optionally) its answer for
a short while after.

The shared run is a task of its own. A caller that is cancelled (its deadline ran out) leaves
without cancelling it for the others; when the last caller leaves, the run is cancelled and
awaited, so nothing outlives the callers. An error is shared with the callers waiting for it,
never kept. The run sees one :class:`SharedDeadline`: the budget of whichever caller has the most
time left, and every caller's deadline names what the run is waiting for.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Hashable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from provcheck._internal.bounded import Lru
from provcheck.errors import DeadlineExceededError
from provcheck.source.deadline import Deadline, Pending

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_KEPT: Final = 4096
"""Answers kept for the window at most (least recently used go first)."""


class SharedDeadline:
    """The deadline of a shared run: it ends when the last of its callers' deadlines ends
    (never, if one caller has none). Implements :class:`~provcheck.source.deadline.DeadlineView`.
    """

    def __init__(self) -> None:
        self._callers: list[Deadline | None] = []
        self._open: list[tuple[Pending, ExitStack]] = []

    def join(self, deadline: Deadline | None) -> None:
        """Add a caller; its deadline names the operations already in flight, too."""
        self._callers.append(deadline)
        if deadline is not None:
            for pending, stack in self._open:
                stack.enter_context(deadline.waiting(pending.host, pending.action))

    def leave(self, deadline: Deadline | None) -> None:
        """Remove a caller (its deadline no longer extends the run)."""
        for i, caller in enumerate(self._callers):
            if caller is deadline:
                del self._callers[i]
                return

    def _longest(self) -> Deadline | None:
        bounded = [caller for caller in self._callers if caller is not None]
        if len(bounded) < len(self._callers) or not bounded:
            return None
        return max(bounded, key=lambda caller: caller.remaining())

    def remaining(self) -> float:
        """Seconds left for the caller with the most time (infinite without a bound)."""
        longest = self._longest()
        return math.inf if longest is None else longest.remaining()

    @contextmanager
    def waiting(self, host: str, action: str) -> Iterator[None]:
        """Mark ``action`` on ``host`` as in flight in every caller's deadline."""
        with ExitStack() as stack:
            for caller in self._callers:
                if caller is not None:
                    stack.enter_context(caller.waiting(host, action))
            entry = (Pending(host, action), stack)
            self._open.append(entry)
            try:
                yield
            finally:
                self._open.remove(entry)

    def cannot_wait(
        self, host: str, action: str, error: Exception, wait: float
    ) -> DeadlineExceededError:
        """The error of the caller with the most time left (see :meth:`Deadline.cannot_wait`)."""
        longest = self._longest()
        if longest is None:  # pragma: no cover - remaining() is infinite then: never called
            raise RuntimeError("cannot_wait without a deadline")
        return longest.cannot_wait(host, action, error, wait)


@dataclass(slots=True)
class _Flight(Generic[V]):
    task: asyncio.Task[V]
    deadline: SharedDeadline
    callers: int = 0


@dataclass(frozen=True, slots=True)
class _Kept(Generic[V]):
    value: V
    until: float


Run = Callable[[SharedDeadline], Coroutine[Any, Any, V]]
"""Starts the shared work, given the deadline of all its callers."""


class SingleFlight(Generic[K, V]):
    """Concurrent :meth:`run` calls with one key share one run.

    ``keep_for`` > 0 keeps a successful answer that many seconds, for callers that come a little
    later (tags: concurrent resolutions of one tag within a short window share one answer).
    """

    def __init__(self, keep_for: float = 0.0, *, max_kept: int = MAX_KEPT) -> None:
        if keep_for < 0:
            raise ValueError("keep_for must be >= 0")
        self.keep_for = keep_for
        self._flights: dict[K, _Flight[V]] = {}
        self._kept: Lru[K, _Kept[V]] = Lru(max_kept)

    def __len__(self) -> int:
        """Runs in flight."""
        return len(self._flights)

    def _recent(self, key: K, now: float) -> _Kept[V] | None:
        kept = self._kept.get(key)
        if kept is not None and kept.until <= now:
            self._kept.pop(key)
            return None
        return kept

    def kept(self, key: K) -> V | None:
        """The answer kept for ``key`` (``keep_for`` not over), or ``None``: no run, no wait."""
        kept = self._recent(key, asyncio.get_running_loop().time())
        return None if kept is None else kept.value

    def _finished(self, key: K, flight: _Flight[V]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        task = flight.task
        if self.keep_for > 0 and not task.cancelled() and task.exception() is None:
            now = asyncio.get_running_loop().time()
            while (oldest := self._kept.oldest()) is not None and oldest[1].until <= now:
                self._kept.pop(oldest[0])
            self._kept.put(key, _Kept(task.result(), now + self.keep_for))

    async def run(self, key: K, start: Run[V], deadline: Deadline | None = None) -> V:
        """The answer of the run for ``key``: the one in flight, a kept one, or a new one.

        Raises what the run raised. A cancelled caller leaves the run to the others.
        """
        loop = asyncio.get_running_loop()
        kept = self._recent(key, loop.time())
        if kept is not None:
            return kept.value
        flight = self._flights.get(key)
        if flight is None:
            shared = SharedDeadline()
            shared.join(deadline)
            task = loop.create_task(start(shared))
            flight = self._flights[key] = _Flight(task, shared)
            task.add_done_callback(lambda _: self._finished(key, flight))
        else:
            flight.deadline.join(deadline)
        flight.callers += 1
        try:
            await asyncio.wait({flight.task})
        except asyncio.CancelledError:
            await self._leave(key, flight, deadline)
            raise
        flight.callers -= 1
        flight.deadline.leave(deadline)
        return flight.task.result()

    async def _leave(self, key: K, flight: _Flight[V], deadline: Deadline | None) -> None:
        """A cancelled caller leaves; the last one cancels the run and waits for it to end (so
        that its deadline learns what was interrupted, and no task outlives the callers)."""
        flight.callers -= 1
        flight.deadline.leave(deadline)
        task = flight.task
        if flight.callers > 0 or task.done():
            return
        if self._flights.get(key) is flight:
            del self._flights[key]
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: it ended some other way while being cancelled
