"""The one check of a time budget in seconds, light enough for the CLI's parser (no asyncio)."""

from __future__ import annotations

import math

from provcheck.errors import UsageError


def check_timeout(seconds: object) -> float:
    """``seconds`` as a float if it is a finite number above zero (not a bool, not text);
    raises :class:`UsageError` otherwise."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise UsageError(f"invalid timeout {seconds!r}: must be a number of seconds")
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"invalid timeout {seconds!r}: must be a finite number above 0")
    return float(seconds)
