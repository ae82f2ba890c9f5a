"""``--shard K/N``: which inputs one of N workers audits (K counts from 0, as a Kubernetes
Indexed Job's ``JOB_COMPLETION_INDEX`` does).

The hash is stable and documented: the first 8 bytes of the SHA-256 of the reference string
exactly as given (UTF-8), read as a big-endian unsigned integer, modulo N. Every copy of a
reference goes to the same shard, so each is still verified once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from provcheck.errors import UsageError

_SHARD = re.compile(r"(\d{1,9})/(\d{1,9})")


def shard_of(reference: str, count: int) -> int:
    """The shard (0 to ``count`` - 1) of ``reference``."""
    digest = hashlib.sha256(reference.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` with 0 <= K < N; raises :class:`UsageError`."""
        match = _SHARD.fullmatch(text.strip())
        if match is None:
            raise UsageError(f"invalid shard {text!r}: expected K/N, e.g. 0/4")
        index, count = int(match[1]), int(match[2])
        if count < 1 or index >= count:
            raise UsageError(f"invalid shard {text!r}: K must be from 0 to N-1")
        return cls(index, count)

    def holds(self, reference: str) -> bool:
        """Whether ``reference`` is one of this shard's."""
        return shard_of(reference, self.count) == self.index

    def select(self, references: Iterable[str]) -> list[str]:
        """The references of this shard, in their order."""
        return [ref for ref in references if self.holds(ref)]
