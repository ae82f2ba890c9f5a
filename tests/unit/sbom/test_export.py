from __future__ import annotations

import csv
import io
import json

import pytest

from provcheck.errors import SbomError
from provcheck.sbom import parse_sbom
from provcheck.sbom.export import (
    ExportFormat,
    SbomEntry,
    export_document,
    export_one,
    export_sboms,
)
from tests.unit.sbom.helpers import fixture, parsed

SOURCE = "sha256:" + "0" * 64 + "#layers/0"


def test_json_export() -> None:
    sbom = parse_sbom(parsed(fixture("spdx-2.3-syft.json")))
    doc = json.loads(export_sboms([SbomEntry("linux/amd64", SOURCE, sbom)], ExportFormat.JSON))
    assert doc["sboms"][0]["source"] == SOURCE
    assert doc["sboms"][0]["platform"] == "linux/amd64"
    assert doc["sboms"][0]["format"] == "spdx"
    assert doc["sboms"][0]["specVersion"] == "SPDX-2.3"
    assert doc["sboms"][0]["components"][0] == {
        "name": "PyYAML",
        "version": "5.3.1",
        "type": "library",
        "purl": "pkg:pypi/PyYAML@5.3.1",
        "licenses": ["MIT"],
        "supplier": "PyYAML",
        "hashes": {"sha256": "ab" * 32},
    }


def test_csv_export() -> None:
    sbom = parse_sbom(parsed(fixture("cyclonedx-1.6.json")))
    rows = list(
        csv.DictReader(
            io.StringIO(export_sboms([SbomEntry("linux/amd64", SOURCE, sbom)], ExportFormat.CSV))
        )
    )
    assert len(rows) == 6
    assert rows[0] == {
        "platform": "linux/amd64",
        "source": SOURCE,
        "name": "event-stream",
        "version": "3.3.6",
        "type": "library",
        "purl": "pkg:npm/event-stream@3.3.6",
        "licenses": "MIT",
        "supplier": "dominictarr",
        "hashes": "sha256:" + "cd" * 32,
    }
    assert rows[1]["licenses"] == "(BSD-3-Clause OR AGPL-3.0-only)"


def test_document_export_is_the_original() -> None:
    doc = fixture("cyclonedx-1.5.json")
    sbom = parse_sbom(parsed(doc))
    assert (
        json.loads(export_sboms([SbomEntry("linux/amd64", SOURCE, sbom)], ExportFormat.CYCLONEDX))
        == doc
    )
    entry = [SbomEntry("linux/amd64", SOURCE, sbom)]
    assert json.loads(export_sboms(entry, ExportFormat.ORIGINAL)) == doc
    # the other format is a conversion (tests/integration/test_sbom_convert_cli.py)
    text, conversion = export_one(entry, ExportFormat.SPDX)
    assert json.loads(text)["spdxVersion"] == "SPDX-2.3"
    assert conversion is not None and conversion.source == "CycloneDX 1.5"
    with pytest.raises(SbomError, match="csv is not a document format"):
        export_document(sbom, ExportFormat.CSV)
    with pytest.raises(SbomError, match="2 SBOMs were selected"):
        export_sboms(
            [SbomEntry("linux/amd64", SOURCE, sbom), SbomEntry("linux/arm64", SOURCE, sbom)],
            ExportFormat.CYCLONEDX,
        )
