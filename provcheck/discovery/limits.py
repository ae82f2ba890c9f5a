"""Bounds on the total work of reading one image, and the budget that enforces them.

Each index or manifest may list at most 1,000 descriptors, but nested indexes multiply that cap:
an index of 50 entries naming one nested index of 50 entries, and so on, costs 50**n reads from a
few kilobytes of JSON. :class:`Limits` bounds the whole run instead, and one :class:`Budget` per
image counts what discovery and the signature stores read; past a limit the image is refused
(:class:`LimitExceededError`, exit code 3), never partly evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from provcheck.errors import LimitExceededError, UsageError
from provcheck.oci.model import ImageIndex, ImageManifest

_GIB: Final = 1024**3


@dataclass(frozen=True, slots=True)
class Limits:
    """The most work one image may cost. Raises :class:`UsageError` for a limit below 1.

    ``max_depth``: index levels, the root included (BuildKit writes one). ``max_descriptors``:
    descriptors read from every index, manifest and referrers list, repeats included (a large
    multi-platform image with attestations and signatures lists a few hundred).
    ``max_bytes``: bytes fetched, manifests and blobs together.
    """

    max_depth: int = 4
    max_descriptors: int = 10_000
    max_bytes: int = _GIB

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_descriptors", "max_bytes"):
            if getattr(self, name) < 1:
                raise UsageError(f"limit {name} must be at least 1")


class Budget:
    """What one image's reads have spent against :class:`Limits`.

    Once a limit is passed every further spend raises, so that concurrent readers stop, and
    :meth:`check` raises the first :class:`LimitExceededError` again in case a reader reported
    it as a problem of one piece of evidence: the whole image is refused.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.descriptors = 0
        self.bytes = 0
        self._exceeded: LimitExceededError | None = None

    def _refuse(self, message: str) -> LimitExceededError:
        if self._exceeded is None:
            self._exceeded = LimitExceededError(f"image refused: {message}")
        return self._exceeded

    def check(self) -> None:
        """Raise :class:`LimitExceededError` when a limit was passed."""
        if self._exceeded is not None:
            raise self._exceeded

    def spend_bytes(self, count: int) -> None:
        """Count ``count`` bytes fetched. Raises :class:`LimitExceededError`."""
        self.check()
        self.bytes += count
        if self.bytes > self.limits.max_bytes:
            raise self._refuse(f"more than {self.limits.max_bytes} bytes to fetch")

    def spend_descriptors(self, count: int) -> None:
        """Count ``count`` descriptors read. Raises :class:`LimitExceededError`."""
        self.check()
        self.descriptors += count
        if self.descriptors > self.limits.max_descriptors:
            raise self._refuse(
                f"more than {self.limits.max_descriptors} descriptors to read (nested indexes?)"
            )

    def enter_index(self, depth: int) -> None:
        """Allow an index at nesting level ``depth`` (the root is 1). Raises
        :class:`LimitExceededError`."""
        self.check()
        if depth > self.limits.max_depth:
            raise self._refuse(f"indexes nested more than {self.limits.max_depth} levels deep")

    def parsed(self, manifest: ImageIndex | ImageManifest) -> ImageIndex | ImageManifest:
        """Count the descriptors of a parsed index or manifest, and return it."""
        if isinstance(manifest, ImageIndex):
            self.spend_descriptors(len(manifest.manifests))
        else:
            self.spend_descriptors(len(manifest.layers) + 1)
        return manifest
