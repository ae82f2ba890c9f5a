"""The one place a secret value is turned into something printable."""

from __future__ import annotations

from typing import Final

# Prefixes that name a token kind without revealing any of its secret part (at most 4 chars).
_KIND_PREFIXES: Final = (
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "npm_",
    "AKIA",
    "ASIA",
    "xoxb",
    "xoxp",
    "xoxa",
    "xoxr",
    "xoxs",
    "glpa",
    "sk_l",
    "sk_t",
    "hf_",
    "dop_",
    "doo_",
    "dor_",
    "squ_",
    "sqp_",
    "sqa_",
    "shpa",
    "shpc",
    "shpp",
    "shps",
)


def redact(value: str) -> str:
    """Return ``value`` redacted: at most a 4-character token-kind prefix and its length.

    ``ghp_FAKE…`` becomes ``ghp_…(40 chars, redacted)``; a value without a known prefix keeps
    nothing: ``…(40 chars, redacted)``. Redacting a redacted value returns it unchanged.
    """
    if value.endswith(" chars, redacted)") and "…(" in value:
        return value
    prefix = next((p for p in _KIND_PREFIXES if value.startswith(p)), "")
    return f"{prefix[:4]}…({len(value)} chars, redacted)"


def redact_assignment(name: str, value: str) -> str:
    """``NAME=<redacted value>``."""
    return f"{name}={redact(value)}"
