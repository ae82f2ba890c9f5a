"""The SBOMs bound to an image, gathered from what discovery found.

An SBOM statement whose subject is a platform manifest describes that platform; one whose
subject is the pinned index describes every platform, and is listed once (platform ``None``)
however many platforms carry it. Only usable statements count: verified, parsed and bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from provcheck.attestation.binding import BindingStatus
from provcheck.predicates import PredicateKind
from provcheck.sbom import parse_sbom
from provcheck.sbom.export import SbomEntry

if TYPE_CHECKING:
    from provcheck.discovery.model import ImageAttestations


@dataclass(frozen=True, slots=True)
class ImageSboms:
    """The SBOMs bound to an image (at least one), and everything found while looking for them:
    the problems of ``attestations`` are warnings to show (a rejected SBOM is one of them)."""

    attestations: ImageAttestations
    sboms: tuple[SbomEntry, ...]


def collect_sboms(found: ImageAttestations) -> tuple[SbomEntry, ...]:
    """Every usable SBOM of ``found``, parsed, in storage order: one entry per platform and
    attestation (``UsableStatement.source``), index-scoped ones once with platform ``None``.

    Empty when there is none. Raises :class:`SbomError` for a malformed SBOM document.
    """
    entries: dict[tuple[str | None, str], SbomEntry] = {}
    for image in found.images:
        for usable in image.statements(PredicateKind.SBOM):
            assert usable.layer.binding is not None  # usable statements are bound
            index_scoped = usable.layer.binding.status is BindingStatus.INDEX
            platform = None if index_scoped else image.platform.key
            key = (platform, usable.source)
            if key not in entries:
                entries[key] = SbomEntry(platform, usable.source, parse_sbom(usable.statement))
    return tuple(entries.values())
