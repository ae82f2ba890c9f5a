"""Content stores: manifests and blobs kept by digest, so that immutable content is fetched once.

A store is trusted no more than a registry: :func:`read_verified` checks every byte it returns
against the digest and size that were asked for, and a corrupted or poisoned entry is a miss
(logged), never evidence. Stores hold only digest-addressed content, never what a tag names.
The interface takes and returns bytes, so a store on disk or in Redis needs no pickling.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Final, Protocol

from provcheck.errors import IntegrityError
from provcheck.oci.digest import Digest

_log = logging.getLogger("provcheck.store")

DEFAULT_STORE_BYTES: Final = 256 * 1024 * 1024
"""Default bound of :class:`MemoryStore`: 256 MiB of content."""


class ContentStore(Protocol):
    """Bytes by digest. ``get`` of an unknown digest is ``None``; ``put`` may drop the entry
    (a full or read-only store). Neither needs to check the bytes: readers do."""

    async def get(self, digest: Digest) -> bytes | None:
        """The bytes stored under ``digest``, or ``None``."""
        ...

    async def put(self, digest: Digest, data: bytes) -> None:
        """Keep ``data`` (which hashes to ``digest``) under ``digest``."""
        ...


class MemoryStore:
    """A :class:`ContentStore` in memory, at most ``max_bytes`` of content (least recently used
    entries go first; an entry larger than the bound is not kept)."""

    def __init__(self, max_bytes: int = DEFAULT_STORE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Digest, bytes] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, digest: Digest) -> bytes | None:
        """See :meth:`ContentStore.get`."""
        data = self._entries.get(digest)
        if data is not None:
            self._entries.move_to_end(digest)
        return data

    async def put(self, digest: Digest, data: bytes) -> None:
        """See :meth:`ContentStore.put`."""
        if len(data) > self.max_bytes:
            return
        old = self._entries.pop(digest, None)
        if old is not None:
            self._size -= len(old)
        self._entries[digest] = data
        self._size += len(data)
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted)


async def read_verified(
    store: ContentStore, digest: Digest, where: str, size: int | None = None
) -> bytes | None:
    """The stored bytes of ``digest`` if they hash to it (and have ``size``), else ``None``.

    Bytes that do not hash to the digest are a corrupted or poisoned entry: logged (WARNING) and
    treated as a miss, so that the caller fetches the content again. Bytes of the right digest
    but another size mean the descriptor is wrong: a miss too, and the fetch will say so.
    """
    data = await store.get(digest)
    if data is None:
        return None
    try:
        digest.verify(data)
    except IntegrityError:
        _log.warning(
            "content store returned bytes for %s (%s) that do not match its digest; "
            "fetching it again",
            digest.short,
            where,
        )
        return None
    return data if size is None or len(data) == size else None
