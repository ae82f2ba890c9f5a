"""Time: the evaluation instant (given, or the clock's) and the one RFC 3339 parser, used for
``--at``, exemption expiries and VSA ``timeVerified`` alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from provcheck.errors import UsageError

_RFC3339: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def evaluation_time(now: datetime | None) -> datetime:
    """``now``, or the clock's time when it is ``None``. Raises :class:`UsageError` for a naive
    ``now``: it cannot be compared with the aware times that attestations carry."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise UsageError("the evaluation time needs a time zone (a naive datetime was given)")
    return now


def parse_rfc3339(text: str) -> datetime:
    """``text``, an RFC 3339 date-time with its offset (``2026-06-30T12:00:00Z``,
    ``…T14:00:00.5+02:00``), in UTC. Raises :class:`ValueError` for anything else: no offset,
    no seconds, another ISO 8601 form, a time out of range once in UTC."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 time with an offset: {text[:60]!r}")
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:59:59-23:59 is past datetime.max in UTC
        raise ValueError(f"out of range in UTC: {text[:60]!r}") from exc


def parse_instant(text: str) -> datetime:
    """``text``, an RFC 3339 date-time (see :func:`parse_rfc3339`) or a date ``YYYY-MM-DD`` (its
    first second in UTC), in UTC. Raises :class:`ValueError` for anything else."""
    if _DATE.fullmatch(text):
        return parse_rfc3339(f"{text}T00:00:00Z")
    return parse_rfc3339(text)
