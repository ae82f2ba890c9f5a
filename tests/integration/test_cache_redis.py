"""The Redis cache against a real redis-server: namespaced keys with TTLs, poisoned content and
forged verdicts are misses, no verdict without an HMAC key, a server that is down is a miss."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
import redis.asyncio

from provcheck.cache import open_cache
from provcheck.cache.redis_store import RedisStore, redacted_url
from provcheck.cache.verdicts import seal
from provcheck.errors import CacheError, UsageError
from provcheck.oci.digest import Digest
from provcheck.report.model import Report, RuleResult, Status

SECRET = b"0123456789abcdef-test-key"
T = TypeVar("T")


def _report(status: Status = Status.PASS) -> Report:
    return Report(
        policy="p",
        reference="127.0.0.1:5000/lab/x:1",
        digest="sha256:" + "a" * 64,
        results=(RuleResult("provenance", status, "linux/amd64", "provenance is present"),),
    )


def _run(
    redis_url: str, body: Callable[[RedisStore, redis.asyncio.Redis], Awaitable[T]], **kw: bytes
) -> T:
    async def run() -> T:
        store = RedisStore(redis_url, prefix=f"provcheck-test-{os.urandom(4).hex()}:", **kw)
        raw = redis.asyncio.Redis.from_url(redis_url)
        try:
            return await body(store, raw)
        finally:
            await store.aclose()
            await raw.aclose()

    return asyncio.run(run())


def test_content_round_trips_under_a_namespaced_key_with_a_ttl(redis_url: str) -> None:
    data = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}'
    digest = Digest.of(data)

    async def body(store: RedisStore, raw: redis.asyncio.Redis) -> None:
        assert await store.get(digest) is None
        await store.put(digest, data)
        assert await store.get(digest) == data
        key = f"{store.prefix}blob:sha256:{digest.hex}"
        assert await raw.get(key) == data
        assert 0 < await raw.ttl(key) <= 7 * 86400
        assert RedisStore(redis_url).blob_key(digest) == f"provcheck:blob:sha256:{digest.hex}"

    _run(redis_url, body)


def test_a_poisoned_entry_is_a_miss(redis_url: str) -> None:
    data = os.urandom(1000)
    digest = Digest.of(data)

    async def body(store: RedisStore, raw: redis.asyncio.Redis) -> None:
        await raw.set(store.blob_key(digest), b"evil bytes under a good digest")
        assert await store.get(digest) is None
        await store.put(digest, data)  # the refetched content replaces it
        assert await store.get(digest) == data

    _run(redis_url, body)


def test_without_a_key_no_verdict_is_kept(redis_url: str) -> None:
    async def body(store: RedisStore, raw: redis.asyncio.Redis) -> None:
        later = datetime.now(UTC) + timedelta(hours=1)
        await store.verdicts.put("a" * 64, _report(), later)
        assert await raw.exists(store.verdict_key("a" * 64)) == 0
        await raw.set(store.verdict_key("a" * 64), seal("a" * 64, _report(), later, None))
        assert await store.verdicts.get("a" * 64) is None  # not even one someone else wrote

    _run(redis_url, body)


def test_verdicts_with_a_key_expire_and_forged_ones_are_misses(redis_url: str) -> None:
    key = "b" * 64

    async def body(store: RedisStore, raw: redis.asyncio.Redis) -> None:
        later = datetime.now(UTC) + timedelta(minutes=10)
        await store.verdicts.put(key, _report(Status.FAIL), later)
        assert await store.verdicts.get(key) == _report(Status.FAIL)
        assert 590_000 < await raw.pttl(store.verdict_key(key)) <= 600_000
        entry = await raw.get(store.verdict_key(key))
        assert isinstance(entry, bytes)
        # a writer of the server without the key: a pass sealed without a MAC, or another key
        for secret in (None, b"an-attacker-key-16"):
            await raw.set(store.verdict_key(key), seal(key, _report(), later, secret))
            assert await store.verdicts.get(key) is None
        # the genuine entry, edited
        forged = entry.replace(b'"status":"fail"', b'"status":"pass"')
        await raw.set(store.verdict_key(key), forged)
        assert await store.verdicts.get(key) is None
        # the genuine entry, copied under another image's key
        await raw.set(store.verdict_key("c" * 64), entry)
        assert await store.verdicts.get("c" * 64) is None
        await store.verdicts.put("d" * 64, _report(Status.ERROR), later)
        assert await raw.exists(store.verdict_key("d" * 64)) == 0

    _run(redis_url, body, secret=SECRET)


def test_info_and_clear_touch_only_their_namespace(redis_url: str) -> None:
    async def body(store: RedisStore, raw: redis.asyncio.Redis) -> None:
        await raw.set("someone-else:key", b"kept")
        for i in range(3):
            blob = bytes([i]) * 100
            await store.put(Digest.of(blob), blob)
        await store.verdicts.put("e" * 64, _report(), datetime.now(UTC) + timedelta(hours=1))
        info = await store.info()
        assert (info.blobs, info.blob_bytes, info.verdicts) == (3, 300, 1)
        assert "maxmemory-policy allkeys-lru" in info.bound
        assert (await store.clear()).removed == 4
        assert (await store.info()).blobs == 0
        assert await raw.get("someone-else:key") == b"kept"

    _run(redis_url, body, secret=SECRET)


def test_a_server_that_is_down_is_an_empty_cache(redis_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nobody listens there
    data = b"x" * 10

    async def run() -> None:
        store = RedisStore(f"redis://127.0.0.1:{port}/0", secret=SECRET)
        try:
            await store.put(Digest.of(data), data)
            assert await store.get(Digest.of(data)) is None
            assert await store.verdicts.get("f" * 64) is None
            with pytest.raises(CacheError, match=r"Redis cache redis://127\.0\.0\.1"):
                await store.info()
        finally:
            await store.aclose()

    asyncio.run(run())


@pytest.mark.parametrize(
    "url", ["redis://", "redis://host:port/0", "redis://h:6379/x", "redis://h/0?db=1"]
)
def test_malformed_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError, match="invalid Redis URL"):
        open_cache(url)


def test_a_password_is_never_shown() -> None:
    assert redacted_url("redis://user:s3cret@h:6379/0") == "redis://user:***@h:6379/0"
    with pytest.raises(UsageError) as caught:
        open_cache("redis://user:s3cret@h:6379/x")
    assert "s3cret" not in str(caught.value)
