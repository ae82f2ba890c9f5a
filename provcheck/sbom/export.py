"""Exports: the normalised components as JSON or CSV, or the original SBOM document."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from provcheck.errors import SbomError
from provcheck.sbom.model import Component, Sbom, SbomFormat

CSV_COLUMNS = ("name", "version", "type", "purl", "licenses", "supplier", "hashes")


class ExportFormat(StrEnum):
    """``provcheck sbom --format`` values."""

    JSON = "json"
    CSV = "csv"
    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"


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


def export_document(sbom: Sbom, fmt: SbomFormat) -> str:
    """The original SBOM document (the statement's predicate) as indented JSON.

    Raises :class:`SbomError` when ``fmt`` is not the SBOM's own format (no conversion).
    """
    if fmt is not sbom.format:
        raise SbomError(
            f"this SBOM is {sbom.format.value}, not {fmt.value}; "
            f"export it as {sbom.format.value}, json or csv"
        )
    return json.dumps(sbom.document, indent=2, ensure_ascii=False) + "\n"


def export_sboms(sboms: Sequence[SbomEntry], fmt: ExportFormat) -> str:
    """Export in ``fmt``; ``cyclonedx``/``spdx`` need exactly one SBOM of that format.

    Raises :class:`SbomError` for a document export of zero or several SBOMs or of another
    format.
    """
    if fmt is ExportFormat.JSON:
        return export_json(sboms)
    if fmt is ExportFormat.CSV:
        return export_csv(sboms)
    wanted = SbomFormat(fmt.value)
    if len(sboms) != 1:
        raise SbomError(
            f"--format {fmt.value} exports one original document, but {len(sboms)} SBOMs were "
            "selected (choose a platform, or use json/csv)"
        )
    return export_document(sboms[0].sbom, wanted)
