"""Reading local files: the small ones a user names (policies, public keys, trusted roots), and
the files of an OCI layout, which someone else wrote."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Final

from provcheck.errors import ProvcheckError, UsageError


class NotRegularFileError(OSError):
    """A FIFO, a device, a directory or a socket where a regular file was expected."""

    def __init__(self) -> None:
        super().__init__(errno.EINVAL, "not a regular file")


def read_at_most(
    path: Path, limit: int, *, regular_only: bool = False, follow_links: bool = True
) -> bytes:
    """At most ``limit`` + 1 bytes of ``path`` (so that a caller can tell it is too large).

    ``regular_only``: refuse anything but a regular file with :class:`NotRegularFileError`,
    checked on the opened file, which is opened without blocking (a FIFO cannot hang it).
    ``follow_links=False`` refuses a symbolic link. Raises :class:`OSError`.
    """
    flags = os.O_RDONLY | os.O_CLOEXEC
    if regular_only:
        flags |= os.O_NONBLOCK
    if not follow_links:
        flags |= os.O_NOFOLLOW
    with os.fdopen(os.open(path, flags), "rb") as fh:
        if regular_only and not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise NotRegularFileError
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


_LINK_ERRNOS: Final = frozenset({errno.ELOOP, errno.EMLINK})
"""What ``open(O_NOFOLLOW)`` of a symbolic link fails with (Linux, macOS: ELOOP; FreeBSD:
EMLINK)."""


def read_regular(
    path: Path, limit: int, what: str, error: type[ProvcheckError], *, within: Path
) -> bytes:
    """At most ``limit`` + 1 bytes of the regular file ``path``, which must lie in ``within``.

    For content that someone else wrote (an OCI layout): ``within`` is opened once (a link
    there is followed: the user named it), and then each component below it is opened relative
    to the one before with ``O_NOFOLLOW``, so no symbolic link below ``within`` is ever followed
    (a directory swapped for a link between two reads cannot lead out), and the file must be
    regular (not ``/dev/zero``, a FIFO, a directory); a FIFO is opened without blocking. Links
    are refused even when they stay inside: BuildKit, ``oras`` and ``skopeo`` never write one
    into a layout, and resolving them safely would need ``openat2``. A longer file is returned
    cut at ``limit`` + 1 bytes, so that the caller sees it is too long.

    Raises :class:`FileNotFoundError` when ``path`` does not exist, else ``error`` (one line
    naming the file and ``what`` it is).
    """
    try:
        parts = path.relative_to(within).parts
    except ValueError:
        parts = ()
    if not parts or any(part in ("..", ".") for part in parts):
        raise error(f"{path}: the {what} is not inside {within}")
    try:
        return _read_below(within, parts, limit)
    except FileNotFoundError:
        raise
    except NotRegularFileError:
        raise error(f"{path}: the {what} is not a regular file") from None
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS:
            link = f"the {what} is a symbolic link or lies under one (not followed in a layout)"
            raise error(f"{path}: {link}") from None
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc


def _open_directory(name: str, parent: int) -> int:
    """The directory ``name`` in ``parent``, never through a link (refused with ELOOP)."""
    try:
        return os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=parent
        )
    except NotADirectoryError:  # what Linux says for a link with O_DIRECTORY | O_NOFOLLOW
        if stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP)) from None
        raise


def _read_below(root: Path, parts: tuple[str, ...], limit: int) -> bytes:
    """The file ``root/parts…``, opened component by component without following links."""
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            below = _open_directory(part, directory)
            os.close(directory)
            directory = below
        leaf = os.open(
            parts[-1],
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            dir_fd=directory,
        )
    finally:
        os.close(directory)
    with os.fdopen(leaf, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise NotRegularFileError
        return fh.read(limit + 1)
