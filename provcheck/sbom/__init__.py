"""SBOMs: parse SPDX 2.2/2.3 and CycloneDX 1.4-1.6 JSON into one component model.

``parse_sbom(statement)`` is the entry point; licenses and purl patterns with version ranges
live in :mod:`provcheck.sbom.licenses` and :mod:`provcheck.sbom.versions`, exports in
:mod:`provcheck.sbom.export`.
"""

from __future__ import annotations

from provcheck.attestation.statement import Statement
from provcheck.errors import SbomError
from provcheck.predicates import CYCLONEDX_BOM, SPDX_DOCUMENT, PredicateKind, predicate_kind
from provcheck.sbom.cyclonedx import parse_cyclonedx
from provcheck.sbom.model import Component, Sbom, SbomFormat
from provcheck.sbom.spdx import parse_spdx


def sbom_format(predicate_type: str) -> SbomFormat:
    """The format a predicate type announces. Raises :class:`SbomError` for a non-SBOM type."""
    if predicate_kind(predicate_type) is not PredicateKind.SBOM:
        raise SbomError(f"{predicate_type[:200]!r} is not an SBOM predicate type")
    return SbomFormat.CYCLONEDX if predicate_type.startswith(CYCLONEDX_BOM) else SbomFormat.SPDX


def parse_sbom(statement: Statement) -> Sbom:
    """Parse the SBOM predicate of ``statement`` (linear in its size).

    Raises :class:`SbomError` when the predicate type is not an SBOM type, SPDX 3 is announced,
    or the document is malformed, of another format than announced, or of an unsupported
    version; the message names the JSON pointer of the offending value.
    """
    fmt = sbom_format(statement.predicate_type)
    document = statement.predicate
    if not document:
        raise SbomError("the SBOM predicate is empty")
    if fmt is SbomFormat.CYCLONEDX:
        return parse_cyclonedx(document, statement.predicate_type)
    suffix = statement.predicate_type.removeprefix(SPDX_DOCUMENT)
    if suffix.startswith("/v3"):
        raise SbomError("SPDX 3 is not supported (SPDX 2.2 and 2.3 JSON are)")
    return parse_spdx(document, statement.predicate_type)


__all__ = ["Component", "Sbom", "SbomError", "SbomFormat", "parse_sbom", "sbom_format"]
