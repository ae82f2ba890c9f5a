"""Helpers shared by the SPDX and CycloneDX projections (not public)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from provcheck.errors import SbomError

_SHA: Final = re.compile(r"^sha-?(1|224|256|384|512)$")


def hash_algorithm(name: str) -> str:
    """``SHA256``/``SHA-256`` -> ``sha256``; other names lowercased (``sha3-256``, ``md5``)."""
    low = name.strip().lower()
    match = _SHA.match(low)
    return f"sha{match.group(1)}" if match else low


def hash_pairs(
    item: Mapping[str, Any], where: str, list_key: str, algorithm_key: str, value_key: str
) -> tuple[tuple[str, str], ...]:
    """``(algorithm, lowercase hex)`` of each entry of ``item[list_key]`` (CycloneDX ``hashes``
    with ``alg``/``content``, SPDX ``checksums`` with ``algorithm``/``checksumValue``).

    Raises :class:`SbomError` for a malformed list or an entry missing either field.
    """
    out: list[tuple[str, str]] = []
    for i, raw in enumerate(expect_list(item.get(list_key), f"{where}/{list_key}")):
        at = f"{where}/{list_key}/{i}"
        entry = expect_object(raw, at)
        algorithm = optional_str(entry.get(algorithm_key), f"{at}/{algorithm_key}")
        value = optional_str(entry.get(value_key), f"{at}/{value_key}")
        if algorithm is None or value is None:
            raise SbomError(f"{at} needs an {algorithm_key} and a {value_key}")
        out.append((hash_algorithm(algorithm), value.lower()))
    return tuple(out)


def expect_list(value: object, where: str) -> list[Any]:
    """``value`` if it is a list, ``[]`` if None. Raises :class:`SbomError` otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SbomError(f"{where} must be a list, not {type(value).__name__}")
    return value


def expect_object(value: object, where: str) -> dict[str, Any]:
    """``value`` if it is an object. Raises :class:`SbomError` otherwise."""
    if not isinstance(value, dict):
        raise SbomError(f"{where} must be an object, not {type(value).__name__}")
    return value


def optional_str(value: object, where: str) -> str | None:
    """``value`` if it is a non-empty string, None if absent or empty.

    Raises :class:`SbomError` for another type.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SbomError(f"{where} must be a string, not {type(value).__name__}")
    return value
