"""The one place text from an attestation is made safe to print on a terminal or in XML.

Anything an attestation says (a builder id, a frontend, a purl, a message quoting them) may hold
characters that move the cursor, start a new line, colour or hide what follows, reorder the line
(bidi overrides), or are not allowed in XML 1.0. :func:`escape_text` shows each of them as a
visible Python-style escape (``\\x1b``, ``\\n``, ``\\u202e``), so one string stays one line
that reads as what it holds.
"""

from __future__ import annotations

import re
from typing import Final

_NAMED: Final = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _escaped(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_UNSAFE: Final = (
    *range(0x00, 0x20),  # C0 controls
    0x7F,  # DEL
    *range(0x80, 0xA0),  # C1 controls
    0x2028,  # line separator
    0x2029,  # paragraph separator
    0x061C,  # bidi: Arabic letter mark
    0x200E,  # bidi: left-to-right and right-to-left marks
    0x200F,
    *range(0x202A, 0x202F),  # bidi embeddings and overrides
    *range(0x2066, 0x206A),  # bidi isolates
    *range(0xD800, 0xE000),  # lone surrogates (not UTF-8, not XML 1.0)
    0xFFFE,  # non-characters (not XML 1.0)
    0xFFFF,
)
_TABLE: Final = {code: _escaped(code) for code in _UNSAFE}


def _ranges(codes: tuple[int, ...]) -> str:
    """A character class body for ``codes``, runs of consecutive codes as ranges (a class of
    2,000 single characters takes milliseconds to compile)."""
    parts: list[str] = []
    start = previous = codes[0]
    for code in (*codes[1:], -1):
        if code == previous + 1:
            previous = code
            continue
        first, last = re.escape(chr(start)), re.escape(chr(previous))
        parts.append(first if start == previous else f"{first}-{last}")
        start = previous = code
    return "".join(parts)


_ANY_UNSAFE: Final = re.compile(f"[{_ranges(tuple(sorted(_UNSAFE)))}]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def escape_text(text: str) -> str:
    """``text`` with every control, line-breaking, bidi or non-XML character escaped visibly.

    C0 controls, DEL, C1 controls, U+2028/U+2029, the bidi embeddings, overrides, isolates and
    marks, lone surrogates and U+FFFE/U+FFFF. The result is one line, valid in XML 1.0 text and
    attributes. Everything else, including other non-ASCII text, is kept as it is.
    """
    # translate() looks up every character; most text has nothing to escape.
    return text.translate(_TABLE) if _ANY_UNSAFE.search(text) else text


def escape_surrogates(json_text: str) -> str:
    """Serialised JSON with lone surrogates written as ``\\udXXX`` escapes.

    ``json.dumps(..., ensure_ascii=False)`` writes a lone surrogate (which ``json.loads`` accepts
    from ``"\\ud800"``) as a raw character that cannot be encoded as UTF-8. Surrogates occur only
    inside JSON strings, where the escape means the same.
    """
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)
