"""The one place a secret value is turned into something printable."""

from __future__ import annotations

from typing import Final

from provcheck._internal.secrets import TOKEN_FORMATS, shown_prefix

_SHOWN_PREFIXES: Final = frozenset({"", *(p[:4] for f in TOKEN_FORMATS for p in f.shown)})


def redact(value: str) -> str:
    """Return ``value`` redacted: at most a 4-character token-kind prefix and its length.

    ``ghp_FAKE…`` becomes ``ghp_…(40 chars, redacted)``; a value without a known prefix keeps
    nothing: ``…(40 chars, redacted)``. Redacting a redacted value returns it unchanged.
    """
    if _is_redacted(value):
        return value
    return f"{shown_prefix(value)[:4]}…({len(value)} chars, redacted)"


def _is_redacted(value: str) -> bool:
    """True when ``value`` is exactly what :func:`redact` returns, so it holds no secret: a
    value that merely ends like one (``hunter2…(9 chars, redacted)``) is still a secret."""
    shown, sep, rest = value.partition("…(")
    length = rest.removesuffix(" chars, redacted)")
    return (
        bool(sep)
        and shown in _SHOWN_PREFIXES
        and length != rest
        and length.isascii()
        and length.isdigit()
    )


def redact_assignment(name: str, value: str) -> str:
    """``NAME=<redacted value>``."""
    return f"{name}={redact(value)}"
