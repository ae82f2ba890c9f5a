"""The in-memory content store and the verified read that every store goes through."""

from __future__ import annotations

import asyncio
import logging

import pytest

from provcheck.oci.digest import Digest
from provcheck.source.store import MemoryStore, read_verified


def _put(store: MemoryStore, *items: bytes) -> list[Digest]:
    digests = [Digest.of(item) for item in items]

    async def run() -> None:
        for digest, item in zip(digests, items, strict=True):
            await store.put(digest, item)

    asyncio.run(run())
    return digests


def test_memory_store_is_bounded_by_bytes_least_recently_used_first() -> None:
    store = MemoryStore(max_bytes=30)
    a, b = _put(store, b"a" * 10, b"b" * 10)

    async def run() -> None:
        assert await store.get(a) == b"a" * 10  # a is now the most recently used
        c = Digest.of(b"c" * 15)
        await store.put(c, b"c" * 15)  # 35 bytes: the least recently used (b) goes
        assert await store.get(b) is None
        assert await store.get(a) == b"a" * 10
        assert await store.get(c) == b"c" * 15
        assert (store.size, len(store)) == (25, 2)
        big = b"x" * 31
        await store.put(Digest.of(big), big)  # larger than the bound: not kept, nothing evicted
        assert (store.size, len(store)) == (25, 2)
        await store.put(a, b"a" * 10)  # the same entry again does not count twice
        assert store.size == 25

    asyncio.run(run())


def test_the_default_bound_is_256_mib() -> None:
    assert MemoryStore().max_bytes == 256 * 1024 * 1024
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryStore(-1)


class _Poisoned:
    """A store that answers every digest with the same bytes (a corrupted or poisoned cache)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def get(self, digest: Digest) -> bytes | None:
        return self.data

    async def put(self, digest: Digest, data: bytes) -> None:
        pass


def test_wrong_bytes_from_a_store_are_a_logged_miss(caplog: pytest.LogCaptureFixture) -> None:
    good = b"the real content"
    digest = Digest.of(good)
    caplog.set_level(logging.WARNING, logger="provcheck.store")

    async def run() -> None:
        poisoned = _Poisoned(b"the real contenT")
        assert await read_verified(poisoned, digest, "blob x", len(good)) is None
        assert await read_verified(_Poisoned(good), digest, "blob x", len(good)) == good
        assert await read_verified(_Poisoned(good), digest, "blob x") == good
        # Right digest, but the descriptor's size is wrong: a miss, not a poisoned entry.
        assert await read_verified(_Poisoned(good), digest, "blob x", len(good) + 1) is None
        assert await read_verified(MemoryStore(), digest, "blob x") is None

    asyncio.run(run())
    assert [r.getMessage() for r in caplog.records] == [
        f"content store returned bytes for {digest.short} (blob x) that do not match its "
        "digest; fetching it again"
    ]
