"""Bounded per-key state of a long-lived client: an LRU mapping, and locks that exist only while
someone holds or waits for them."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterator, KeysView
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A mapping of at most ``max_entries`` entries that forgets the least recently used."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recently used), or ``None``."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[tuple[K, V]]:
        """Set ``key``; return the entries evicted to stay within the bound."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        evicted: list[tuple[K, V]] = []
        while len(self._entries) > self.max_entries:
            evicted.append(self._entries.popitem(last=False))
        return evicted

    def pop(self, key: K) -> V | None:
        """Remove ``key``; return its value or ``None``."""
        return self._entries.pop(key, None)

    def drop(self, keys: list[K]) -> None:
        """Remove every key of ``keys``."""
        for key in keys:
            self._entries.pop(key, None)

    def oldest(self) -> tuple[K, V] | None:
        """The least recently used entry, or ``None`` when empty."""
        return next(iter(self._entries.items()), None)

    def items(self) -> Iterator[tuple[K, V]]:
        """Entries from least to most recently used (a snapshot)."""
        return iter(list(self._entries.items()))

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(slots=True)
class _Held:
    semaphore: asyncio.Semaphore
    users: int = 0


class KeyedLocks(Generic[K]):
    """One lock per key (or, with ``slots`` > 1, a semaphore of that many), kept only while a
    task holds or waits for it."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("slots must be >= 1")
        self.slots = slots
        self._locks: dict[K, _Held] = {}

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        """Hold the lock (one of the slots) of ``key`` for the block."""
        held = self._locks.get(key)
        if held is None:
            held = self._locks[key] = _Held(asyncio.Semaphore(self.slots))
        held.users += 1
        try:
            async with held.semaphore:
                yield
        finally:
            held.users -= 1
            if held.users == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)

    def keys(self) -> KeysView[K]:
        """The keys held or waited for now."""
        return self._locks.keys()
