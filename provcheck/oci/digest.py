"""Content digests (``sha256:<hex>``): parsing, computing and verifying."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from provcheck.errors import IntegrityError, ManifestError

_HEX_LENGTH: Final = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A content digest with a supported algorithm and its lowercase hex value."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        expected = _HEX_LENGTH.get(self.algorithm)
        if expected is None:
            raise ManifestError(f"unsupported digest algorithm {self.algorithm!r}")
        if len(self.hex) != expected or not _HEX.fullmatch(self.hex):
            raise ManifestError(f"malformed {self.algorithm} digest {self.hex[:80]!r}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``algorithm:hex``. Raises :class:`ManifestError` when malformed."""
        algorithm, sep, hex_ = text.partition(":")
        if not sep:
            raise ManifestError(f"malformed digest {text[:80]!r}: expected 'algorithm:hex'")
        return cls(algorithm, hex_)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """Compute the digest of ``data``."""
        if algorithm not in _HEX_LENGTH:
            raise ManifestError(f"unsupported digest algorithm {algorithm!r}")
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def verify(self, data: bytes) -> None:
        """Raise :class:`IntegrityError` unless ``data`` hashes to this digest."""
        actual = hashlib.new(self.algorithm, data).hexdigest()
        if actual != self.hex:
            raise IntegrityError(f"content of {self} hashes to {self.algorithm}:{actual}")

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        """``sha256:0123456789ab``: enough to tell digests apart in a message."""
        return f"{self.algorithm}:{self.hex[:12]}"
