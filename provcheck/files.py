"""Reading local files: the small ones a user names (policies, public keys, trusted roots), and
the files of an OCI layout, which someone else wrote."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from provcheck.errors import ProvcheckError, UsageError


def read_capped(
    path: Path, limit: int, what: str, error: type[ProvcheckError] = UsageError
) -> bytes:
    """The bytes of ``path``, never reading more than ``limit`` + 1 of them.

    Raises ``error`` (one line naming the file and ``what`` it is) when the file cannot be read
    or is larger than ``limit`` bytes.
    """
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(f"{path}: {what} is larger than {limit} bytes")
    return data


def read_regular(
    path: Path, limit: int, what: str, error: type[ProvcheckError], *, within: Path
) -> bytes:
    """At most ``limit`` + 1 bytes of the regular file ``path``, which must lie in ``within``.

    For content that someone else wrote (an OCI layout): a symbolic link that leads out of
    ``within``, and anything that is not a regular file (``/dev/zero``, a FIFO, a directory),
    is refused before a byte is read; a FIFO is opened without blocking. A longer file is
    returned cut at ``limit`` + 1 bytes, so that the caller sees it is too long.

    Raises :class:`FileNotFoundError` when ``path`` does not exist, else ``error`` (one line
    naming the file and ``what`` it is).
    """
    try:
        resolved = path.resolve(strict=True)
        if not resolved.is_relative_to(within.resolve(strict=True)):
            raise error(f"{path}: the {what} is a link to a file outside {within}")
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11, 3.12)
        raise error(
            f"{path}: cannot read the {what}: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise error(f"{path}: the {what} is not a regular file")
        try:
            return fh.read(limit + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
