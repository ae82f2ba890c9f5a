"""Request limits shared by every reader of a client: at most N requests in flight per registry
host, and a host that answered ``429`` with ``Retry-After`` paused for every request to it."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol

from provcheck._internal.bounded import KeyedLocks

DEFAULT_REQUESTS_PER_HOST: Final = 6
"""Concurrent requests per registry host (regclient uses 3, docker 3 per image pull)."""


class RequestLimiter(Protocol):
    """Decides when a request to a registry host may be sent."""

    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """Hold one of the host's request slots for the block (waits for a free one)."""
        ...

    async def resume_in(self, host: str) -> float:
        """Seconds until a pause of ``host`` ends (0 when it is not paused)."""
        ...

    async def pause(self, host: str, seconds: float) -> None:
        """Hold every request to ``host`` for ``seconds`` (a ``Retry-After`` it sent)."""
        ...


class HostLimiter:
    """A :class:`RequestLimiter` in memory: ``per_host`` requests at a time per host. State is
    kept only for hosts with requests in flight or a pause that has not ended."""

    def __init__(self, per_host: int = DEFAULT_REQUESTS_PER_HOST) -> None:
        if per_host < 1:
            raise ValueError("per_host must be >= 1")
        self.per_host = per_host
        self._gates: KeyedLocks[str] = KeyedLocks(per_host)
        self._paused_until: dict[str, float] = {}

    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """See :meth:`RequestLimiter.slot`."""
        return self._gates.hold(host)

    async def resume_in(self, host: str) -> float:
        """See :meth:`RequestLimiter.resume_in`."""
        until = self._paused_until.get(host)
        if until is None:
            return 0.0
        left = until - asyncio.get_running_loop().time()
        if left <= 0:
            del self._paused_until[host]
            return 0.0
        return left

    async def pause(self, host: str, seconds: float) -> None:
        """See :meth:`RequestLimiter.pause`."""
        now = asyncio.get_running_loop().time()
        for other, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[other]
        self._paused_until[host] = max(self._paused_until.get(host, now), now + seconds)

    def active_hosts(self) -> int:
        """Hosts with state kept (requests in flight or a pause)."""
        return len(set(self._gates.keys()) | set(self._paused_until))
