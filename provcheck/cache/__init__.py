"""Caches of content and verdicts, on disk or in Redis (``--cache DIR|redis://HOST:PORT/DB``).

A cache is trusted no more than a registry: content is verified against its digest on every
read (here and again by the registry client), and a verdict entry is used only when its key,
expiry and (with an HMAC key) MAC check out. See :mod:`provcheck.cache.disk`,
:mod:`provcheck.cache.redis_store` and :mod:`provcheck.cache.verdicts`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from provcheck.cache.disk import DEFAULT_DISK_BYTES, CacheInfo, DiskStore, PruneResult
from provcheck.cache.verdicts import (
    NoVerdicts,
    VerdictCache,
    VerdictInputs,
    check_secret,
    verdict_key,
)
from provcheck.source.store import ContentStore

if TYPE_CHECKING:
    from provcheck.cache.redis_store import RedisStore

SECRET_ENV: Final = "PROVCHECK_CACHE_HMAC_KEY"
"""The environment variable that holds the HMAC key of cached verdicts."""


class Cache(ContentStore, Protocol):
    """A content store and a verdict cache in one place, and its upkeep."""

    @property
    def location(self) -> str:
        """Where it is (a Redis URL without its password)."""
        ...

    @property
    def verdicts(self) -> VerdictCache:
        """The verdicts."""
        ...

    async def info(self) -> CacheInfo:
        """Entry counts and sizes. Raises :class:`CacheError`."""
        ...

    async def prune(self) -> PruneResult:
        """Remove what is expired or over the bound. Raises :class:`CacheError`."""
        ...

    async def clear(self) -> PruneResult:
        """Remove every entry. Raises :class:`CacheError`."""
        ...

    async def aclose(self) -> None:
        """Close connections."""
        ...


def secret_from_env(environ: dict[str, str] | None = None) -> bytes | None:
    """The HMAC key in :data:`SECRET_ENV`, or ``None``. Raises :class:`UsageError` when it
    is shorter than 16 bytes."""
    value = (os.environ if environ is None else environ).get(SECRET_ENV, "")
    return check_secret(value.encode()) if value else None


def open_cache(
    spec: str, *, max_bytes: int = DEFAULT_DISK_BYTES, secret: bytes | None = None
) -> DiskStore | RedisStore:
    """The cache ``spec`` names: ``redis://HOST:PORT/DB`` (imports redis-py), else a directory.

    Raises :class:`UsageError` for a malformed URL, :class:`CacheError` when the directory
    cannot be created or redis-py is missing.
    """
    if spec.startswith(("redis://", "rediss://")):
        from provcheck.cache.redis_store import RedisStore

        return RedisStore(spec, secret=secret)
    return DiskStore(Path(spec).expanduser(), max_bytes, secret=secret)


__all__ = [
    "SECRET_ENV",
    "Cache",
    "CacheInfo",
    "ContentStore",
    "DiskStore",
    "NoVerdicts",
    "PruneResult",
    "VerdictCache",
    "VerdictInputs",
    "open_cache",
    "secret_from_env",
    "verdict_key",
]
