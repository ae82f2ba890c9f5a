"""The cache in a directory (default ``$XDG_CACHE_HOME/provcheck``), shared by processes.

Layout: ``blobs/sha256/<2 hex>/<hex>`` holds content, ``verdicts/<2 hex>/<key>`` sealed
verdicts. Every file is written to a temporary file in its own folder, fsynced and renamed over
its name (``os.replace``), so a reader sees a whole entry or none, and a writer killed at any
point leaves at most a temporary file that :meth:`DiskStore.prune` removes later. No lock:
readers never wait. A read touches the file's mtime, the clock of the least-recently-used
prune that keeps the directory under its size bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from provcheck.cache.verdicts import cacheable, seal, unseal
from provcheck.errors import CacheError, IntegrityError
from provcheck.oci.digest import Digest
from provcheck.report.model import Report

_log = logging.getLogger("provcheck.cache")

DEFAULT_DISK_BYTES: Final = 1024**3
"""Default size bound of a cache directory: 1 GiB."""
MAX_ENTRY_BYTES: Final = 128 * 1024 * 1024
"""Content larger than this is not kept (nor read back)."""
TOUCH_AFTER: Final = 60.0
"""Seconds after which a read updates an entry's mtime (its last use, for the prune)."""
STALE_TEMP: Final = 3600.0
"""Seconds after which a temporary file is an orphan of a killed writer."""
_TEMP_SUFFIX: Final = ".tmp"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/provcheck``, else ``~/.cache/provcheck``."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "provcheck"


def is_private(path: Path) -> bool:
    """True when ``path`` is a real directory (no symlink) owned by this user that nobody else
    may read or write (mode 0700 or stricter)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fsynced temporary file in its folder."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _read(path: Path, limit: int) -> tuple[bytes, os.stat_result] | None:
    """The bytes of ``path`` and its status, or ``None`` (absent, unreadable, over ``limit``)."""
    try:
        with path.open("rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                return None
            data = handle.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    if time.time() - st.st_mtime > TOUCH_AFTER:
        with contextlib.suppress(OSError):
            os.utime(path)
    return data, st


def _discard(path: Path, st: os.stat_result) -> None:
    """Remove ``path`` if it is still the file that was read (not a newer, good one)."""
    with contextlib.suppress(OSError):
        if path.stat().st_ino == st.st_ino:
            path.unlink()


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the cache."""

    path: Path
    size: int
    mtime: float


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """What ``provcheck cache info`` shows."""

    location: str
    blobs: int
    blob_bytes: int
    verdicts: int
    verdict_bytes: int
    bound: str
    verdicts_enabled: bool


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune or clear removed."""

    removed: int
    freed: int


class DiskStore:
    """Content (a :class:`~provcheck.source.store.ContentStore`) and verdicts
    (a :class:`~provcheck.cache.verdicts.VerdictCache`) under ``root``, at most about
    ``max_bytes`` of them (each process prunes when it has written a tenth of the bound since
    it last counted).

    ``secret``: the HMAC key of verdict entries. Without it, verdicts are kept only when
    ``root`` is private (:func:`is_private`): nobody else can write them. The directory is
    created with mode 0700. Raises :class:`CacheError` when it cannot be created.
    """

    def __init__(
        self, root: Path, max_bytes: int = DEFAULT_DISK_BYTES, *, secret: bytes | None = None
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be > 0")
        self.root = root
        self.max_bytes = max_bytes
        self._secret = secret
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache {root}: {exc.strerror or exc}") from exc
        self.blobs = root / "blobs"
        self.verdict_dir = root / "verdicts"
        self.verdicts_enabled = secret is not None or is_private(root)
        if not self.verdicts_enabled:
            _log.warning(
                "cache %s is not private to this user (mode 0700): verdicts are not cached "
                "there without an HMAC key",
                root,
            )
        self._written_since_count: int | None = None
        self._pruning = threading.Lock()
        """Held by the one prune this process runs at a time (writes run in threads)."""

    # -- content ---------------------------------------------------------------------------------
    def blob_path(self, digest: Digest) -> Path:
        """Where the content of ``digest`` is kept."""
        return self.blobs / digest.algorithm / digest.hex[:2] / digest.hex

    async def get(self, digest: Digest) -> bytes | None:
        """See :meth:`ContentStore.get`: only bytes that hash to ``digest``."""
        return await asyncio.to_thread(self._get, digest)

    def _get(self, digest: Digest) -> bytes | None:
        path = self.blob_path(digest)
        read = _read(path, MAX_ENTRY_BYTES)
        if read is None:
            return None
        data, st = read
        try:
            digest.verify(data)
        except IntegrityError:
            _log.warning("cache file %s does not match its digest: removed", path)
            _discard(path, st)
            return None
        return data

    async def put(self, digest: Digest, data: bytes) -> None:
        """See :meth:`ContentStore.put`; a write that fails is logged and dropped."""
        if len(data) <= MAX_ENTRY_BYTES:
            await asyncio.to_thread(self._put, self.blob_path(digest), data)

    def _put(self, path: Path, data: bytes) -> None:
        try:
            _write_atomic(path, data)
        except OSError as exc:
            _log.warning("cannot write the cache file %s: %s", path, exc.strerror or exc)
            return
        self._account(len(data))

    def _account(self, written: int) -> None:
        """Prune when this process has written a tenth of the bound since it last counted
        (and no other of its writes is pruning already)."""
        if not self._pruning.acquire(blocking=False):
            return
        try:
            if self._written_since_count is None:
                self._written_since_count = self.max_bytes // 10 + 1  # count on the first write
            self._written_since_count += written
            if self._written_since_count > self.max_bytes // 10:
                self._written_since_count = 0
                self._prune()
        finally:
            self._pruning.release()

    # -- verdicts --------------------------------------------------------------------------------
    def verdict_path(self, key: str) -> Path:
        """Where the verdict of ``key`` is kept."""
        return self.verdict_dir / key[:2] / key

    async def get_verdict(self, key: str) -> Report | None:
        """See :meth:`VerdictCache.get`."""
        if not self.verdicts_enabled:
            return None
        return await asyncio.to_thread(self._get_verdict, key)

    def _get_verdict(self, key: str) -> Report | None:
        read = _read(self.verdict_path(key), MAX_ENTRY_BYTES)
        if read is None:
            return None
        return unseal(read[0], key, self._secret, datetime.now(UTC))

    async def put_verdict(self, key: str, report: Report, expires_at: datetime) -> None:
        """See :meth:`VerdictCache.put`."""
        if self.verdicts_enabled and cacheable(report):
            entry = seal(key, report, expires_at, self._secret)
            await asyncio.to_thread(self._put, self.verdict_path(key), entry)

    @property
    def verdicts(self) -> DiskVerdicts:
        """The verdict half, as a :class:`VerdictCache`."""
        return DiskVerdicts(self)

    # -- maintenance -----------------------------------------------------------------------------
    def _entries(self) -> Iterator[Entry]:
        """Every file under the cache folders (temporary ones included)."""
        for top in (self.blobs, self.verdict_dir):
            for folder, _, files in os.walk(top):
                for name in files:
                    path = Path(folder, name)
                    try:
                        st = path.lstat()
                    except OSError:
                        continue
                    yield Entry(path, st.st_size, st.st_mtime)

    async def info(self) -> CacheInfo:
        """Count the entries (temporary files excluded)."""
        return await asyncio.to_thread(self._info)

    def _info(self) -> CacheInfo:
        counts = {self.blobs: [0, 0], self.verdict_dir: [0, 0]}
        for entry in self._entries():
            if entry.path.name.endswith(_TEMP_SUFFIX):
                continue
            top = self.blobs if self.blobs in entry.path.parents else self.verdict_dir
            counts[top][0] += 1
            counts[top][1] += entry.size
        (blobs, blob_bytes), (verdicts, verdict_bytes) = counts.values()
        return CacheInfo(
            str(self.root),
            blobs,
            blob_bytes,
            verdicts,
            verdict_bytes,
            f"at most {self.max_bytes} bytes (least recently used entries go first)",
            self.verdicts_enabled,
        )

    async def prune(self) -> PruneResult:
        """Remove orphaned temporary files, expired or unreadable verdicts, then the least
        recently used entries until the cache holds at most 90 % of its bound."""
        return await asyncio.to_thread(self._prune)

    def _prune(self) -> PruneResult:
        now = time.time()
        when = datetime.now(UTC)
        removed = freed = 0
        kept: list[Entry] = []
        for entry in self._entries():
            stale = entry.path.name.endswith(_TEMP_SUFFIX) and now - entry.mtime > STALE_TEMP
            if stale or self._expired_verdict(entry, when):
                removed, freed = removed + _unlink(entry), freed + entry.size
            elif not entry.path.name.endswith(_TEMP_SUFFIX):
                kept.append(entry)
        total = sum(e.size for e in kept)
        if total > self.max_bytes:
            goal = self.max_bytes * 9 // 10
            for entry in sorted(kept, key=lambda e: e.mtime):
                if total <= goal:
                    break
                removed, freed = removed + _unlink(entry), freed + entry.size
                total -= entry.size
        return PruneResult(removed, freed)

    def _expired_verdict(self, entry: Entry, now: datetime) -> bool:
        if self.verdict_dir not in entry.path.parents or entry.path.name.endswith(_TEMP_SUFFIX):
            return False
        read = _read(entry.path, MAX_ENTRY_BYTES)
        if read is None:
            return False
        return unseal(read[0], entry.path.name, self._secret, now) is None

    async def clear(self) -> PruneResult:
        """Remove every entry."""
        return await asyncio.to_thread(self._clear)

    async def aclose(self) -> None:
        """Nothing to close (for the :class:`~provcheck.cache.Cache` interface)."""

    @property
    def location(self) -> str:
        """The directory."""
        return str(self.root)

    def _clear(self) -> PruneResult:
        removed = freed = 0
        for entry in list(self._entries()):
            removed, freed = removed + _unlink(entry), freed + entry.size
        return PruneResult(removed, freed)


def _unlink(entry: Entry) -> int:
    try:
        entry.path.unlink()
    except OSError:
        return 0
    return 1


@dataclass(frozen=True, slots=True)
class DiskVerdicts:
    """The verdicts of a :class:`DiskStore`, as a :class:`VerdictCache`."""

    cache: DiskStore

    async def get(self, key: str) -> Report | None:
        """See :meth:`VerdictCache.get`."""
        return await self.cache.get_verdict(key)

    async def put(self, key: str, report: Report, expires_at: datetime) -> None:
        """See :meth:`VerdictCache.put`."""
        await self.cache.put_verdict(key, report, expires_at)
