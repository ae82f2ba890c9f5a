"""Build SBOM statements for the sbom tests (fixtures/sbom holds the small documents)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from provcheck.attestation.statement import Statement, parse_statement
from tests.oci_builder import SPDX_DOCUMENT, image_purl
from tests.paths import FIXTURES_DIR

SBOM_FIXTURES: Final = FIXTURES_DIR / "sbom"
CYCLONEDX_BOM: Final = "https://cyclonedx.org/bom"
SUBJECT: Final = "sha256:" + "ab" * 32


def fixture(name: str) -> dict[str, Any]:
    """One document of fixtures/sbom."""
    path: Path = SBOM_FIXTURES / name
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def sbom_statement(
    document: Mapping[str, Any],
    predicate_type: str | None = None,
    *,
    subject_digest: str = SUBJECT,
    platform: str | None = "linux/amd64",
) -> dict[str, Any]:
    """An in-toto v1 statement around an SBOM document (type guessed from the document)."""
    if predicate_type is None:
        predicate_type = CYCLONEDX_BOM if "bomFormat" in document else SPDX_DOCUMENT
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": predicate_type,
        "subject": [
            {"name": image_purl(platform=platform), "digest": {"sha256": subject_digest[7:]}}
        ],
        "predicate": dict(document),
    }


def parsed(document: Mapping[str, Any], predicate_type: str | None = None) -> Statement:
    """:func:`sbom_statement` round-tripped through the statement parser."""
    return parse_statement(json.dumps(sbom_statement(document, predicate_type)).encode())


def cyclonedx_document(
    components: Sequence[Mapping[str, Any]], version: str = "1.6"
) -> dict[str, Any]:
    """A minimal CycloneDX document with ``components``."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": version,
        "version": 1,
        "components": [dict(c) for c in components],
    }


def spdx_document(
    packages: Sequence[Mapping[str, Any]], version: str = "SPDX-2.3"
) -> dict[str, Any]:
    """A minimal SPDX document; ``packages`` entries: name, version, purl, license."""
    out = []
    for n, pkg in enumerate(packages):
        entry: dict[str, Any] = {
            "name": pkg["name"],
            "SPDXID": f"SPDXRef-Package-{n}",
            "downloadLocation": "NOASSERTION",
        }
        if "version" in pkg:
            entry["versionInfo"] = pkg["version"]
        if "license" in pkg:
            entry["licenseConcluded"] = pkg["license"]
        if "purl" in pkg:
            entry["externalRefs"] = [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": pkg["purl"],
                }
            ]
        out.append(entry)
    return {
        "spdxVersion": version,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "sbom",
        "documentNamespace": "https://provcheck.invalid/spdx/test",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test"]},
        "packages": out,
    }
