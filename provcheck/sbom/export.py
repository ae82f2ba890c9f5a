"""Exports: the normalised components as JSON or CSV, the original SBOM document, or the
document converted to CycloneDX 1.6 / SPDX 2.3 (:mod:`provcheck.sbom.convert`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from provcheck.errors import SbomError
from provcheck.sbom.model import Component, Sbom, SbomFormat

if TYPE_CHECKING:
    from provcheck.sbom.convert import Conversion

CSV_COLUMNS = ("name", "version", "type", "purl", "licenses", "supplier", "hashes")


class ExportFormat(StrEnum):
    """``provcheck sbom --format`` values."""

    JSON = "json"
    CSV = "csv"
    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"
    ORIGINAL = "original"


@dataclass(frozen=True, slots=True)
class SbomEntry:
    """One SBOM to export: the platform it describes (``None``: every platform of the index)
    and the attestation it came from (``UsableStatement.source``)."""

    platform: str | None
    source: str
    sbom: Sbom


def component_dict(component: Component) -> dict[str, Any]:
    """One component as plain JSON data (``hashes`` as ``{algorithm: hex}``)."""
    return {
        "name": component.name,
        "version": component.version,
        "type": component.type,
        "purl": component.purl,
        "licenses": list(component.licenses),
        "supplier": component.supplier,
        "hashes": dict(component.hashes),
    }


def export_json(sboms: Sequence[SbomEntry]) -> str:
    """``{"sboms": [{"platform", "source", "format", "specVersion", "name", "components"}]}``.

    Keys and order are stable; the output ends with a newline.
    """
    doc = {
        "sboms": [
            {
                "platform": entry.platform,
                "source": entry.source,
                "format": entry.sbom.format.value,
                "specVersion": entry.sbom.spec_version,
                "name": entry.sbom.name,
                "components": [component_dict(c) for c in entry.sbom.components],
            }
            for entry in sboms
        ]
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def export_csv(sboms: Sequence[SbomEntry]) -> str:
    """CSV with a header: ``platform``, ``source`` then :data:`CSV_COLUMNS`.

    Several licenses are joined with `` AND ``, hashes written as ``alg:hex`` separated by
    spaces. Line ends are ``\\r\\n`` (RFC 4180).
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("platform", "source", *CSV_COLUMNS))
    for entry in sboms:
        for c in entry.sbom.components:
            writer.writerow(
                (
                    entry.platform or "",
                    entry.source,
                    c.name,
                    c.version or "",
                    c.type,
                    c.purl or "",
                    " AND ".join(f"({x})" if " " in x else x for x in c.licenses),
                    c.supplier or "",
                    " ".join(f"{alg}:{value}" for alg, value in c.hashes),
                )
            )
    return out.getvalue()


def export_document(sbom: Sbom, fmt: ExportFormat) -> tuple[str, Conversion | None]:
    """One SBOM as a document: the original (``original``, or the SBOM's own format: never a
    lossy round trip), else converted (CycloneDX 1.6 or SPDX 2.3) with what was dropped.

    Raises :class:`SbomError` for ``json``/``csv`` or a document that cannot be converted.
    """
    if fmt is ExportFormat.ORIGINAL or fmt.value == sbom.format.value:
        return json.dumps(sbom.document, indent=2, ensure_ascii=False) + "\n", None
    if fmt not in (ExportFormat.CYCLONEDX, ExportFormat.SPDX):
        raise SbomError(f"{fmt.value} is not a document format")
    from provcheck.sbom.convert import convert_sbom

    conversion = convert_sbom(sbom, SbomFormat(fmt.value))
    return conversion.text, conversion


def export_one(sboms: Sequence[SbomEntry], fmt: ExportFormat) -> tuple[str, Conversion | None]:
    """:func:`export_document` of the one SBOM of ``sboms``.

    Raises :class:`SbomError` for zero or several SBOMs, and what :func:`export_document`
    raises.
    """
    if len(sboms) != 1:
        raise SbomError(
            f"--format {fmt.value} exports one document, but {len(sboms)} SBOMs were "
            "selected (choose a platform, or use json/csv)"
        )
    return export_document(sboms[0].sbom, fmt)


def export_sboms(sboms: Sequence[SbomEntry], fmt: ExportFormat) -> str:
    """Export in ``fmt``: ``json``/``csv`` of every SBOM, or one document (:func:`export_one`).

    Raises what :func:`export_one` raises.
    """
    if fmt is ExportFormat.JSON:
        return export_json(sboms)
    if fmt is ExportFormat.CSV:
        return export_csv(sboms)
    return export_one(sboms, fmt)[0]
