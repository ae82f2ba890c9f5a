"""Encode JSON the way Go's ``json.MarshalIndent(v, "", "  ")`` does for decoded ``any`` data.

That is what ``docker buildx imagetools inspect --format '{{json …}}'`` prints: map keys sorted
at every level (struct fields, marked with :class:`GoStruct`, keep their order), numbers
round-tripped through float64, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, other non-ASCII
kept as UTF-8, lone surrogates (which Go's decoder never produces) as U+FFFD.
"""

from __future__ import annotations

import json
import re
from typing import Any


class GoStruct(dict[str, Any]):
    """A Go struct: its fields are encoded in declaration (insertion) order, not sorted."""


_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_EXACT_FLOAT_INTS = 2**53


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _string(value: str) -> str:
    # Go decodes a lone surrogate escape ("\ud800") as U+FFFD, so buildx prints that.
    value = _LONE_SURROGATE.sub("\ufffd", value)
    return json.dumps(value, ensure_ascii=False).translate(_GO_ESCAPES)


def _number(value: int | float) -> str:
    """Go's float64 formatting: shortest digits, exponent only below 1e-6 or from 1e21 on."""
    if isinstance(value, int) and abs(value) < _EXACT_FLOAT_INTS:
        return str(value)
    f = float(value)
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("JSON cannot encode NaN or infinity")
    if f == 0:
        return "0"
    if 1e-6 <= abs(f) < 1e21:
        from decimal import Decimal  # 1.5 ms: only when a document holds a float

        return format(Decimal(repr(f)), "f").removesuffix(".0")
    mantissa, _, exponent = repr(f).partition("e")
    sign = "-" if exponent.startswith("-") else "+"
    digits = exponent.lstrip("+-").rjust(2, "0")
    return f"{mantissa.removesuffix('.0')}e{sign}{digits}"


def _encode(value: Any, indent: str, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int | float):
        out.append(_number(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = indent + "  "
        out.append("{")
        keys = list(value) if isinstance(value, GoStruct) else sorted(value)
        for i, key in enumerate(keys):
            out.append(("," if i else "") + "\n" + inner + _string(key) + ": ")
            _encode(value[key], inner, out)
        out.append("\n" + indent + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = indent + "  "
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + "\n" + inner)
            _encode(item, inner, out)
        out.append("\n" + indent + "]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def go_json_indent(value: Any) -> str:
    """Return ``value`` encoded like Go's ``json.MarshalIndent(value, "", "  ")``."""
    out: list[str] = []
    _encode(value, "", out)
    return "".join(out)
