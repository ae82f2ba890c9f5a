"""The SBOMs bound to an image, gathered from what discovery found.

An SBOM statement whose subject is a platform manifest describes that platform; one whose
subject is the pinned index describes every platform, and is listed once (platform ``None``)
however many platforms carry it (:mod:`provcheck.sbom.scope` decides which is which). Only
usable statements count: verified, parsed and bound.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provcheck.errors import NoSbomError, SbomError
from provcheck.sbom.export import SbomEntry
from provcheck.sbom.model import SbomFormat
from provcheck.sbom.scope import ScopedSbom, scope_sboms

if TYPE_CHECKING:
    from provcheck.discovery.model import ImageAttestations
    from provcheck.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class ImageSboms:
    """The SBOMs bound to an image (at least one), and everything found while looking for them:
    the problems of ``attestations`` are warnings to show (a rejected SBOM is one of them, and
    so is one that could not be parsed)."""

    attestations: ImageAttestations
    sboms: tuple[SbomEntry, ...]


def _collect(found: ImageAttestations) -> tuple[tuple[SbomEntry, ...], tuple[ScopedSbom, ...]]:
    """The entries of the readable SBOMs, and the unreadable SBOMs, each once, in storage order."""
    entries: dict[tuple[str | None, str], SbomEntry] = {}
    unreadable: dict[str, ScopedSbom] = {}
    for platform in scope_sboms(found.images):
        for scoped in platform.own:
            key = str(scoped.usable.layer.descriptor.digest)
            if scoped.sbom is None:
                unreadable.setdefault(key, scoped)
                continue
            described = None if scoped.index_scoped else platform.image.platform.key
            if (described, key) not in entries:
                entries[(described, key)] = SbomEntry(described, scoped.usable.source, scoped.sbom)
    return tuple(entries.values()), tuple(unreadable.values())


@dataclass(frozen=True, slots=True)
class SbomDocument:
    """One original SBOM document bound to an image, readable by the projection or not: the
    platform it describes (``None``: every platform), its attestation, its layer's digest."""

    platform: str | None
    source: str
    digest: Digest
    format: SbomFormat
    document: Mapping[str, Any]


def sbom_documents(found: ImageAttestations) -> tuple[SbomDocument, ...]:
    """Every SBOM document of ``found`` (usable statements, parsed or not), each once per
    platform and attestation like :func:`collect_sboms`, in storage order."""
    from provcheck.sbom import sbom_format

    out: dict[tuple[str | None, str], SbomDocument] = {}
    for platform in scope_sboms(found.images):
        for scoped in platform.own:
            statement = scoped.usable.statement
            described = None if scoped.index_scoped else platform.image.platform.key
            key = (described, str(scoped.usable.layer.descriptor.digest))
            if key not in out:
                out[key] = SbomDocument(
                    described,
                    scoped.usable.source,
                    scoped.usable.layer.descriptor.digest,
                    sbom_format(statement.predicate_type),
                    statement.predicate,
                )
    return tuple(out.values())


def collect_sboms(found: ImageAttestations) -> tuple[SbomEntry, ...]:
    """Every usable SBOM of ``found``, parsed, in storage order: one entry per platform and
    attestation (``UsableStatement.source``), index-scoped ones once with platform ``None``.

    Empty when there is none. Raises :class:`SbomError` for a malformed SBOM document (use
    :func:`image_sboms` to keep the others).
    """
    entries, unreadable = _collect(found)
    if unreadable:
        raise SbomError(unreadable[0].error or "unreadable SBOM")
    return entries


def image_sboms(found: ImageAttestations) -> ImageSboms:
    """The readable SBOMs of ``found``; each malformed one becomes a ``malformed`` problem of
    the returned ``attestations`` (naming its attestation), so it is reported, never dropped.

    Raises :class:`NoSbomError` (carrying those attestations) when no usable SBOM can be read.
    """
    from provcheck.discovery.model import Problem, ProblemKind

    entries, unreadable = _collect(found)
    problems = tuple(
        Problem(
            ProblemKind.MALFORMED,
            f"SBOM {s.usable.source}: {s.error}: not used",
            s.usable.layer.descriptor.digest,
        )
        for s in unreadable
    )
    seen = dataclasses.replace(found, problems=(*found.problems, *problems)) if problems else found
    if not entries:
        where = f"{found.reference} ({found.digest.short})"
        if problems:
            message = f"no SBOM bound to {where} can be read: {len(problems)} malformed"
            raise NoSbomError(message, seen)
        raise NoSbomError(f"no usable SBOM is bound to {where}", seen)
    return ImageSboms(seen, entries)
