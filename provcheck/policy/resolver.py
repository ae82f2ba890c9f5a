"""Where the key files and trusted roots that a policy names come from.

:func:`~provcheck.policy.loader.parse_policy` reads no file: it asks a :class:`KeyResolver` for
the bytes of each name under ``rules.signatures`` (``keys``, ``trusted-root``), once per name.
:class:`FileResolver` reads them relative to the policy file (what
:func:`~provcheck.policy.loader.load_policy` uses); :class:`MappingResolver` serves bytes held in
memory (a server's Kubernetes Secret, a test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from provcheck._internal.files import read_at_most
from provcheck.errors import KeyResolutionError

MAX_RESOLVED_BYTES: Final = 1024 * 1024
"""The most a resolver returns (the size of the largest trusted root provcheck accepts); each
kind of file has its own, smaller or equal, cap in the loader."""


class KeyResolver(Protocol):
    """Gives the bytes of a key file or trusted root that a policy names."""

    def resolve(self, name: str) -> bytes:
        """The bytes of ``name`` (as written in the policy), at most
        :data:`MAX_RESOLVED_BYTES` of them. Raises :class:`KeyResolutionError`."""
        ...


@dataclass(frozen=True, slots=True)
class FileResolver:
    """Names are paths relative to ``base`` (the policy file's directory): regular files only
    (never a FIFO or a device, which could block or never end), reads capped."""

    base: Path

    def resolve(self, name: str) -> bytes:
        """The bytes of ``base / name``. Raises :class:`KeyResolutionError`."""
        path = self.base / name
        try:
            data = read_at_most(path, MAX_RESOLVED_BYTES, regular_only=True)
        except OSError as exc:
            raise KeyResolutionError(str(path), exc.strerror or str(exc)) from exc
        if len(data) > MAX_RESOLVED_BYTES:
            raise KeyResolutionError(str(path), f"larger than {MAX_RESOLVED_BYTES} bytes")
        return data


@dataclass(frozen=True, slots=True)
class MappingResolver:
    """Names are keys of ``files`` (bytes held in memory)."""

    files: Mapping[str, bytes]

    def resolve(self, name: str) -> bytes:
        """``files[name]``. Raises :class:`KeyResolutionError` when it is absent or too large."""
        data = self.files.get(name)
        if data is None:
            raise KeyResolutionError(name, f"not among the {len(self.files)} file(s) given")
        if len(data) > MAX_RESOLVED_BYTES:
            raise KeyResolutionError(name, f"larger than {MAX_RESOLVED_BYTES} bytes")
        return data


@dataclass(frozen=True, slots=True)
class NoResolver:
    """Resolves nothing: a policy parsed without a resolver may name no file."""

    def resolve(self, name: str) -> bytes:
        """Always raises :class:`KeyResolutionError`."""
        raise KeyResolutionError(
            name,
            "no resolver to read it from (load_policy(path) reads files next to the policy; "
            "parse_policy needs resolver=)",
        )
