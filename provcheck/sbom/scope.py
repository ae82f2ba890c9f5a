"""Which SBOM statements describe which platform, each parsed once: the one place that decides.

A usable SBOM statement bound to a platform manifest describes that platform; one bound to the
pinned index (:attr:`BindingStatus.INDEX`) describes every platform, whichever platform's
attestations it was found with. A statement is identified by its layer digest: the same bytes
found twice are one SBOM. ``provcheck sbom``, the ``sbom`` rule, ``inspect`` and the
``min-trust`` notes all read SBOMs through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from provcheck.attestation.binding import BindingStatus
from provcheck.discovery.model import PlatformImage, UsableStatement
from provcheck.errors import SbomError
from provcheck.oci.digest import Digest
from provcheck.predicates import PredicateKind
from provcheck.sbom import parse_sbom
from provcheck.sbom.model import Sbom


def index_scoped(usable: UsableStatement) -> bool:
    """True when ``usable`` is bound to the pinned index (it covers every platform)."""
    binding = usable.layer.binding
    return binding is not None and binding.status is BindingStatus.INDEX


def _digest(usable: UsableStatement) -> Digest:
    return usable.layer.descriptor.digest


def applicable_statements(
    image: PlatformImage, images: Iterable[PlatformImage]
) -> tuple[UsableStatement, ...]:
    """The usable SBOM statements describing ``image``: its own in storage order, then those of
    ``images`` bound to the index; each once, where it was first found."""
    out: dict[Digest, UsableStatement] = {}
    for usable in image.statements(PredicateKind.SBOM):
        out.setdefault(_digest(usable), usable)
    for other in images:
        for usable in other.statements(PredicateKind.SBOM):
            if index_scoped(usable):
                out.setdefault(_digest(usable), usable)
    return tuple(out.values())


@dataclass(frozen=True, slots=True)
class ScopedSbom:
    """One usable SBOM statement and its parsed SBOM, or why it cannot be read."""

    usable: UsableStatement
    sbom: Sbom | None
    error: str | None
    """The diagnostics of the :class:`SbomError` parsing raised (``sbom`` is then ``None``)."""

    @property
    def index_scoped(self) -> bool:
        """True when bound to the pinned index (it covers every platform)."""
        return index_scoped(self.usable)

    @property
    def scope(self) -> str:
        """What the SBOM describes, for people."""
        if self.index_scoped:
            return "bound to the index (covers every platform)"
        return "bound to this platform"


@dataclass(frozen=True, slots=True)
class PlatformSboms:
    """The SBOMs describing one platform image."""

    image: PlatformImage
    own: tuple[ScopedSbom, ...]
    """Found with this platform (bound to it or to the index), in storage order."""
    shared: tuple[ScopedSbom, ...]
    """Bound to the index and found only with other platforms."""

    @property
    def sboms(self) -> tuple[ScopedSbom, ...]:
        """Every SBOM describing the platform: :attr:`own`, then :attr:`shared`."""
        return self.own + self.shared


def scope_sboms(images: Sequence[PlatformImage]) -> tuple[PlatformSboms, ...]:
    """The SBOMs describing each of ``images`` (index-bound ones pooled across ``images``),
    in the order of ``images``; every distinct statement parsed once. Raises nothing: a
    malformed SBOM is a :class:`ScopedSbom` with an ``error``."""
    parsed: dict[Digest, tuple[Sbom | None, str | None]] = {}

    def scoped(usable: UsableStatement) -> ScopedSbom:
        key = _digest(usable)
        if key not in parsed:
            try:
                parsed[key] = (parse_sbom(usable.statement), None)
            except SbomError as exc:
                parsed[key] = (None, exc.diagnostics())
        return ScopedSbom(usable, *parsed[key])

    out: list[PlatformSboms] = []
    for image in images:
        found_here = {_digest(u) for u in image.statements(PredicateKind.SBOM)}
        own: list[ScopedSbom] = []
        shared: list[ScopedSbom] = []
        for usable in applicable_statements(image, images):
            (own if _digest(usable) in found_here else shared).append(scoped(usable))
        out.append(PlatformSboms(image, tuple(own), tuple(shared)))
    return tuple(out)
