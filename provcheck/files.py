"""Reading the small local files a user names: policies, public keys, trusted roots."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from provcheck.errors import ProvcheckError, UsageError


def read_at_most(path: Path, limit: int, *, regular_only: bool = False) -> bytes:
    """At most ``limit`` + 1 bytes of ``path`` (so that a caller can tell it is too large).

    ``regular_only``: refuse anything but a regular file (a FIFO, a device, a directory), checked
    on the opened file, which is opened without blocking. Raises :class:`OSError`.
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if regular_only:
        flags |= getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        if regular_only and not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return fh.read(limit + 1)


def read_capped(
    path: Path, limit: int, what: str, error: type[ProvcheckError] = UsageError
) -> bytes:
    """The bytes of ``path``, never reading more than ``limit`` + 1 of them.

    Raises ``error`` (one line naming the file and ``what`` it is) when the file cannot be read
    or is larger than ``limit`` bytes.
    """
    try:
        data = read_at_most(path, limit)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(f"{path}: {what} is larger than {limit} bytes")
    return data
