"""Reading the small local files a user names: policies, public keys, trusted roots."""

from __future__ import annotations

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
