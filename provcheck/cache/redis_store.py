"""The cache in Redis (``redis://HOST:PORT/DB``), shared by processes and replicas.

Keys: ``provcheck:blob:sha256:<hex>`` (content) and ``provcheck:verdict:<key>`` (sealed
verdicts, only with an HMAC key: anyone who can write to the server could forge one). Every
entry has a TTL (:data:`BLOB_TTL` for content; a verdict's own expiry), and the server should
evict under memory pressure: run it with ``maxmemory`` set and ``maxmemory-policy allkeys-lru``
(or ``volatile-lru``; every key has a TTL). ``redis`` (redis-py) is an optional extra
(``provcheck[redis]``), imported only when a ``redis://`` cache is opened. A server that is
down or slow is an empty cache for a verification (logged once per outage), never an error.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from provcheck.cache.disk import CacheInfo, PruneResult
from provcheck.cache.verdicts import cacheable, seal, unseal
from provcheck.errors import CacheError, IntegrityError, UsageError
from provcheck.oci.digest import Digest
from provcheck.report.model import Report

if TYPE_CHECKING:
    import redis.asyncio

_log = logging.getLogger("provcheck.cache")

PREFIX: Final = "provcheck:"
BLOB_TTL: Final = timedelta(days=7)
"""TTL of content in Redis (refreshed by every write)."""
MAX_ENTRY_BYTES: Final = 64 * 1024 * 1024
"""Content larger than this is not kept in Redis."""
SOCKET_TIMEOUT: Final = 2.0
"""Seconds a Redis command may take before the cache counts as down."""
RETRY_AFTER: Final = 30.0
"""Seconds a cache that failed is left alone before it is tried again."""
SCHEMES: Final = ("redis://", "rediss://")


def redacted_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def check_url(url: str) -> str:
    """``url`` if it is ``redis[s]://HOST[:PORT][/DB]``; raises :class:`UsageError`."""
    shown = redacted_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid Redis URL {shown!r}: {exc}") from None
    if not url.startswith(SCHEMES) or not parts.hostname:
        raise UsageError(f"invalid Redis URL {shown!r}: expected redis://HOST:PORT/DB")
    database = parts.path.strip("/")
    if (database and not database.isdigit()) or parts.query or parts.fragment or port == 0:
        raise UsageError(f"invalid Redis URL {shown!r}: expected redis://HOST:PORT/DB")
    return url


class RedisStore:
    """Content (a :class:`~provcheck.source.store.ContentStore`) and verdicts in Redis.

    ``secret``: the HMAC key of verdict entries; without it no verdict is kept or read. The
    connection opens on first use, on the running event loop; close it with :meth:`aclose`.
    Raises :class:`UsageError` for a malformed URL, :class:`CacheError` when the ``redis``
    package is missing.
    """

    def __init__(self, url: str, *, secret: bytes | None = None, prefix: str = PREFIX) -> None:
        self.url = check_url(url)
        self.prefix = prefix
        self._secret = secret
        self.verdicts_enabled = secret is not None
        self._client: redis.asyncio.Redis | None = None
        self._down_until = 0.0
        try:
            import redis.asyncio  # noqa: F401  (fail now, with a hint, not at the first read)
        except ImportError as exc:
            raise CacheError(
                "a redis:// cache needs the redis package: pip install 'provcheck[redis]'"
            ) from exc

    @property
    def location(self) -> str:
        """The URL without its password."""
        return redacted_url(self.url)

    def _redis(self) -> redis.asyncio.Redis:
        if self._client is None:
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(
                self.url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def blob_key(self, digest: Digest) -> str:
        """``provcheck:blob:sha256:<hex>``."""
        return f"{self.prefix}blob:{digest}"

    def verdict_key(self, key: str) -> str:
        """``provcheck:verdict:<key>``."""
        return f"{self.prefix}verdict:{key}"

    async def _call(self, what: str, command: Any) -> Any:
        """Run ``command(client)``; ``None`` (logged) when Redis fails or has failed lately."""
        import redis.exceptions

        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:
            return None
        try:
            return await command(self._redis())
        except (redis.exceptions.RedisError, OSError) as exc:
            self._down_until = loop.time() + RETRY_AFTER
            _log.warning(
                "Redis cache %s: %s failed (%s); going on without it for %.0f s",
                self.location,
                what,
                type(exc).__name__,
                RETRY_AFTER,
            )
            return None

    # -- content ---------------------------------------------------------------------------------
    async def get(self, digest: Digest) -> bytes | None:
        """See :meth:`ContentStore.get`: only bytes that hash to ``digest``."""
        data = await self._call("GET", lambda r: r.get(self.blob_key(digest)))
        if not isinstance(data, bytes):
            return None
        try:
            digest.verify(data)
        except IntegrityError:
            _log.warning("Redis entry %s does not match its digest: ignored", digest.short)
            return None
        return data

    async def put(self, digest: Digest, data: bytes) -> None:
        """See :meth:`ContentStore.put` (with :data:`BLOB_TTL`)."""
        if len(data) > MAX_ENTRY_BYTES:
            return
        ttl = int(BLOB_TTL.total_seconds())
        await self._call("SET", lambda r: r.set(self.blob_key(digest), data, ex=ttl))

    # -- verdicts --------------------------------------------------------------------------------
    async def get_verdict(self, key: str) -> Report | None:
        """See :meth:`VerdictCache.get`."""
        if self._secret is None:
            return None
        data = await self._call("GET", lambda r: r.get(self.verdict_key(key)))
        if not isinstance(data, bytes):
            return None
        return unseal(data, key, self._secret, datetime.now(UTC))

    async def put_verdict(self, key: str, report: Report, expires_at: datetime) -> None:
        """See :meth:`VerdictCache.put`: kept until ``expires_at`` (the key's TTL)."""
        if self._secret is None or not cacheable(report):
            return
        ttl_ms = int((expires_at - datetime.now(UTC)).total_seconds() * 1000)
        if ttl_ms <= 0:
            return
        entry = seal(key, report, expires_at, self._secret)
        await self._call("SET", lambda r: r.set(self.verdict_key(key), entry, px=ttl_ms))

    @property
    def verdicts(self) -> RedisVerdicts:
        """The verdict half, as a :class:`VerdictCache`."""
        return RedisVerdicts(self)

    # -- maintenance (errors raise CacheError) ---------------------------------------------------
    async def _checked(self, command: Any) -> Any:
        import redis.exceptions

        try:
            return await command(self._redis())
        except (redis.exceptions.RedisError, OSError) as exc:
            raise CacheError(f"Redis cache {self.location}: {type(exc).__name__}: {exc}") from exc

    async def _keys(self) -> list[bytes]:
        async def scan(r: redis.asyncio.Redis) -> list[bytes]:
            return [k async for k in r.scan_iter(match=f"{self.prefix}*", count=1000)]

        keys: list[bytes] = await self._checked(scan)
        return keys

    async def info(self) -> CacheInfo:
        """Count the entries; the bound is the server's ``maxmemory`` and its policy."""
        keys = await self._keys()

        async def sizes(r: redis.asyncio.Redis) -> list[int]:
            pipe = r.pipeline(transaction=False)
            for k in keys:
                pipe.strlen(k)
            return list(await pipe.execute())

        lengths = await self._checked(sizes) if keys else []
        blob = f"{self.prefix}blob:".encode()
        counts = [0, 0, 0, 0]
        for k, n in zip(keys, lengths, strict=True):
            at = 0 if k.startswith(blob) else 2
            counts[at] += 1
            counts[at + 1] += int(n)

        async def memory(r: redis.asyncio.Redis) -> dict[str, Any]:
            try:
                return {str(k): v for k, v in (await r.config_get("maxmemory*")).items()}
            except Exception:  # CONFIG is often disabled on managed servers
                return {}

        config = await self._checked(memory)
        bound = (
            f"maxmemory {config.get('maxmemory', '?')} bytes, "
            f"maxmemory-policy {config.get('maxmemory-policy', '?')}; every key has a TTL"
        )
        blobs, blob_bytes, verdicts, verdict_bytes = counts
        return CacheInfo(
            self.location, blobs, blob_bytes, verdicts, verdict_bytes, bound, self.verdicts_enabled
        )

    async def prune(self) -> PruneResult:
        """Nothing to do: Redis removes expired keys itself and evicts by its policy."""
        return PruneResult(0, 0)

    async def clear(self) -> PruneResult:
        """Remove every ``provcheck:`` key."""
        keys = await self._keys()
        removed = 0
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            removed += int(await self._checked(lambda r, b=batch: r.unlink(*b)))
        return PruneResult(removed, 0)


class RedisVerdicts:
    """The verdicts of a :class:`RedisStore`, as a :class:`VerdictCache`."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store

    async def get(self, key: str) -> Report | None:
        """See :meth:`VerdictCache.get`."""
        return await self.store.get_verdict(key)

    async def put(self, key: str, report: Report, expires_at: datetime) -> None:
        """See :meth:`VerdictCache.put`."""
        await self.store.put_verdict(key, report, expires_at)
