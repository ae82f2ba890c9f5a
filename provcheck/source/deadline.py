"""One time budget for the network work of one call: it ends at a point on the event loop's clock,
and it knows what was in flight, so that running out names the host and the request.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Final, Protocol

from provcheck._internal.timeout import check_timeout
from provcheck.errors import DeadlineExceededError

DEFAULT_TIMEOUT: Final = 60.0
"""Seconds a command's network work may take: connect, requests, retries and waits together."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A network operation in flight: the host it waits for and what it does there."""

    host: str
    action: str


class DeadlineView(Protocol):
    """What a request needs of a deadline: :class:`Deadline`, or one shared by the callers of
    one fetch (:class:`provcheck.source.flight.SharedDeadline`)."""

    def remaining(self) -> float:
        """Seconds left."""
        ...

    def waiting(self, host: str, action: str) -> AbstractContextManager[None]:
        """Mark ``action`` on ``host`` as in flight for the duration of the block."""
        ...

    def cannot_wait(
        self, host: str, action: str, error: Exception, wait: float
    ) -> DeadlineExceededError:
        """The error for a wait of ``wait`` seconds that does not fit."""
        ...


class Deadline:
    """The budget of one call (``seconds`` from :meth:`enforce` on).

    :meth:`enforce` cancels everything inside it when the time is up and raises
    :class:`DeadlineExceededError` naming what was pending; :meth:`waiting` marks the operations
    that the message may name; :meth:`remaining` lets a retry loop skip a wait that cannot fit.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = check_timeout(seconds)
        self._ends: float | None = None
        self._ids = itertools.count()
        self._in_flight: dict[int, Pending] = {}
        self._interrupted: dict[int, Pending] = {}
        """The innermost operation that each cancelled task was waiting for."""

    def remaining(self) -> float:
        """Seconds left (all of them before :meth:`enforce` started the clock)."""
        if self._ends is None:
            return self.seconds
        return max(self._ends - asyncio.get_running_loop().time(), 0.0)

    @contextmanager
    def waiting(self, host: str, action: str) -> Iterator[None]:
        """Mark ``action`` on ``host`` as in flight for the duration of the block."""
        key = next(self._ids)
        self._in_flight[key] = pending = Pending(host, action)
        try:
            yield
        except BaseException:
            # Cancelled, or closed while the task is being cancelled (an httpx auth flow).
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                self._interrupted.setdefault(id(task), pending)
            raise
        finally:
            del self._in_flight[key]

    def _name(self, seconds: float) -> str:
        return f"deadline of {seconds:g} s"

    def exceeded(self) -> DeadlineExceededError:
        """The error for a budget that ran out, naming the first operation it interrupted."""
        found = list(self._interrupted.values()) or list(self._in_flight.values())
        if not found:
            return DeadlineExceededError(
                f"{self._name(self.seconds)} exceeded", seconds=self.seconds, host="", pending=""
            )
        first = found[0]
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        return DeadlineExceededError(
            f"{self._name(self.seconds)} exceeded waiting for {first.host} ({first.action}){more}",
            seconds=self.seconds,
            host=first.host,
            pending=first.action,
        )

    def cannot_wait(
        self, host: str, action: str, error: Exception, wait: float
    ) -> DeadlineExceededError:
        """The error for giving up on ``action`` now: the retry after ``error`` would wait
        ``wait`` seconds (backoff or ``Retry-After``), more than the budget has left."""
        return DeadlineExceededError(
            f"{error}; a retry in {wait:.1f} s would pass the {self._name(self.seconds)} "
            f"({self.remaining():.1f} s left)",
            seconds=self.seconds,
            host=host,
            pending=action,
        )

    @asynccontextmanager
    async def enforce(self) -> AsyncIterator[None]:
        """Start the clock; cancel the block when it runs out and raise
        :class:`DeadlineExceededError` instead of :class:`TimeoutError`."""
        loop = asyncio.get_running_loop()
        self._ends = loop.time() + self.seconds
        scope = asyncio.timeout_at(self._ends)
        try:
            async with scope:
                yield
        except TimeoutError:
            if not scope.expired():
                raise
            raise self.exceeded() from None
