"""The one way bytes from outside become JSON values: strict RFC 8259, bounded depth.

``json.loads`` alone accepts ``NaN``/``Infinity``, turns ``1e400`` into ``inf``, raises
``ValueError`` (not ``JSONDecodeError``) for an integer of more than 4,300 digits and
``RecursionError`` for deep nesting; and a value it accepts at depth 900 still breaks every
recursive consumer later (renderers, schema validation). :func:`load_json` turns all of that into
the caller's :class:`~provcheck.errors.ProvcheckError` subclass, before anything reads the value.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from provcheck.errors import ProvcheckError

MAX_JSON_DEPTH: Final = 200
"""Deepest nesting accepted. Real documents stay far below it: BuildKit provenance nests about a
dozen levels, a CycloneDX SBOM with components nested 64 deep (the most provcheck reads) about
130."""


class _Rejected(ValueError):
    """A value RFC 8259 does not allow (raised from inside the decoder's hooks)."""


def _constant(name: str) -> Any:
    raise _Rejected(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected(f"number {text[:20]} is out of range")
    return value


def _too_deep(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """True when ``value`` nests containers more than ``limit`` levels (iterative)."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _openers(data: bytes | str) -> int:
    """How many ``{`` and ``[`` ``data`` holds (in strings too): a bound on its nesting depth,
    counted in C, where the walk of the decoded value costs ~50 us for an AdmissionReview."""
    if isinstance(data, str):
        return data.count("{") + data.count("[")
    return data.count(b"{") + data.count(b"[")


def load_json(data: bytes | str, what: str, error: type[ProvcheckError]) -> Any:
    """Decode ``data`` as strict JSON nested at most :data:`MAX_JSON_DEPTH` levels.

    Messages name ``what`` and never quote the content (it may hold secrets). Raises ``error``
    for bytes that are not UTF-8, not JSON, use ``NaN``/``Infinity`` or out-of-range numbers,
    or nest too deeply.
    """
    try:
        value = json.loads(data, parse_constant=_constant, parse_float=_float)
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not valid JSON (not UTF-8)") from exc
    except RecursionError as exc:
        raise error(f"{what} nests deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:  # _Rejected, and int() refusing more than 4,300 digits
        raise error(f"{what} is not valid JSON ({str(exc)[:80]})") from exc
    if (
        isinstance(value, dict | list)
        and _openers(data) > MAX_JSON_DEPTH  # else it cannot nest deeper: no walk
        and _too_deep(value, MAX_JSON_DEPTH)
    ):
        raise error(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def load_json_object(data: bytes | str, what: str, error: type[ProvcheckError]) -> dict[str, Any]:
    """:func:`load_json`, and the value must be an object. Raises ``error``."""
    value = load_json(data, what, error)
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    return value
