"""SBOM conversion and schema validation on small documents: typed losses, structure, edges."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from provcheck.errors import SbomError
from provcheck.sbom.convert import Dropped, Loss, convert_sbom, joined_licenses, spdx_ids
from provcheck.sbom.cyclonedx import parse_cyclonedx
from provcheck.sbom.model import SbomFormat
from provcheck.sbom.schema import SPDX_SCHEMAS, SchemaProblem, validate_schema
from provcheck.sbom.spdx import parse_spdx
from provcheck.sbom.structure import Edge, Relation, read_structure
from tests.paths import REAL_DIR, REPO_ROOT
from tests.unit.sbom.helpers import cyclonedx_document, fixture, spdx_document

SPDX = "https://spdx.dev/Document"
CDX = "https://cyclonedx.org/bom"
STRICT = JsonStrictValidator(SchemaVersion.V1_6)


def _rel(a: str, kind: str, b: str) -> dict[str, str]:
    return {"spdxElementId": a, "relationshipType": kind, "relatedSpdxElement": b}


def _packages(n: int) -> dict[str, Any]:
    return spdx_document([{"name": f"p{i}", "version": "1"} for i in range(n)])


def test_containment_cycle_and_second_container_are_not_nested() -> None:
    doc = _packages(3)
    p = "SPDXRef-Package-"
    doc["relationships"] = [
        _rel(f"{p}0", "CONTAINS", f"{p}1"),
        _rel(f"{p}1", "CONTAINS", f"{p}2"),
        _rel(f"{p}2", "CONTAINS", f"{p}0"),  # a cycle
        _rel(f"{p}0", "CONTAINED_BY", f"{p}2"),  # the same edge, read once
    ]
    conversion = convert_sbom(parse_spdx(doc, SPDX), SbomFormat.CYCLONEDX)
    assert STRICT.validate_str(conversion.text) is None
    out = json.loads(conversion.text)
    assert [c["name"] for c in out["components"]] == ["p0"]
    assert out["components"][0]["components"][0]["components"][0]["name"] == "p2"
    assert conversion.dropped == (
        Dropped(Loss.CONTAINMENT, "containment relationship", 1, "it would make a cycle"),
    )
    assert "metadata" not in out or "component" not in out["metadata"]


def test_several_described_elements_stay_components() -> None:
    doc = _packages(2)
    doc["documentDescribes"] = ["SPDXRef-Package-0", "SPDXRef-Package-1"]
    conversion = convert_sbom(parse_spdx(doc, SPDX), SbomFormat.CYCLONEDX)
    out = json.loads(conversion.text)
    assert "component" not in out["metadata"]
    assert {c["name"] for c in out["components"]} == {"p0", "p1"}
    assert [d.loss for d in conversion.dropped] == [Loss.DESCRIBED]
    assert conversion.dropped[0].count == 2


def test_duplicate_spdx_ids_are_refused() -> None:
    doc = _packages(2)
    doc["packages"][1]["SPDXID"] = doc["packages"][0]["SPDXID"]
    with pytest.raises(SbomError, match="two SPDX elements have the same reference"):
        convert_sbom(parse_spdx(doc, SPDX), SbomFormat.CYCLONEDX)


def test_same_format_is_refused() -> None:
    with pytest.raises(SbomError, match="already spdx"):
        convert_sbom(parse_spdx(_packages(1), SPDX), SbomFormat.SPDX)


def test_cyclonedx_types_hashes_and_ids_to_spdx() -> None:
    doc = cyclonedx_document(
        [
            {"type": "machine-learning-model", "name": "model", "bom-ref": "a b/c"},
            {
                "type": "library",
                "name": "lib",
                "bom-ref": "SPDXRef-lib",
                "hashes": [
                    {"alg": "Streebog-256", "content": "ab" * 32},
                    {"alg": "SHA-512", "content": "cd" * 64},
                ],
                "cpe": "cpe:2.3:a:x:lib:1:*:*:*:*:*:*:*",
                "licenses": [
                    {"license": {"id": "MIT", "acknowledgement": "declared"}},
                    {"expression": "Apache-2.0 OR BSD-2-Clause", "acknowledgement": "declared"},
                ],
            },
        ]
    )
    doc["dependencies"] = [{"ref": "SPDXRef-lib", "dependsOn": ["a b/c", "missing"]}]
    conversion = convert_sbom(parse_cyclonedx(doc, CDX), SbomFormat.SPDX)
    out = json.loads(conversion.text)
    assert validate_schema(SbomFormat.SPDX, out).valid
    model, lib = out["packages"]
    assert (model["SPDXID"], model["primaryPackagePurpose"]) == ("SPDXRef-a-b-c", "OTHER")
    assert lib["SPDXID"] == "SPDXRef-lib"
    assert lib["checksums"] == [{"algorithm": "SHA512", "checksumValue": "cd" * 64}]
    assert lib["licenseDeclared"] == "MIT AND (Apache-2.0 OR BSD-2-Clause)"
    assert lib["licenseConcluded"] == "NOASSERTION"
    assert lib["externalRefs"] == [
        {
            "referenceCategory": "SECURITY",
            "referenceType": "cpe23Type",
            "referenceLocator": "cpe:2.3:a:x:lib:1:*:*:*:*:*:*:*",
        }
    ]
    assert {(d.loss, d.detail) for d in conversion.dropped} == {
        (Loss.TYPE, "component type machine-learning-model"),
        (Loss.HASH, "STREEBOG-256 hash"),
        (Loss.DANGLING, "dependency"),
    }
    # no described element: the document describes each top-level one
    assert [r["relatedSpdxElement"] for r in out["relationships"][:2]] == [
        "SPDXRef-a-b-c",
        "SPDXRef-lib",
    ]
    assert _rel("SPDXRef-lib", "DEPENDS_ON", "SPDXRef-a-b-c") in out["relationships"]


def test_spdx_ids_are_unique_and_valid() -> None:
    assert spdx_ids(["SPDXRef-a", "a", "a!", "é"]) == {
        "SPDXRef-a": "SPDXRef-a",
        "a": "SPDXRef-a-2",
        "a!": "SPDXRef-a-3",
        "é": "SPDXRef-element",
    }


def test_joined_licenses() -> None:
    assert joined_licenses(["MIT OR X"]) == "MIT OR X"
    assert joined_licenses(["MIT OR X", "Y"]) == "(MIT OR X) AND Y"


def test_cyclonedx_structure_reads_nesting_root_and_dependencies() -> None:
    structure = read_structure(parse_cyclonedx(fixture("cyclonedx-1.6.json"), CDX))
    assert structure.described == ("app",)
    assert Edge("go-x", Relation.CONTAINS, "go-x-sub") in structure.edges
    assert Edge("app", Relation.CONTAINS, "npm-es") in structure.edges
    assert ("go-x-sub", "go-x") not in structure.of(Relation.CONTAINS)


def test_conversion_is_deterministic() -> None:
    recorded = json.loads((REAL_DIR / "g-sbom-generator" / "inspect.sbom.json").read_text())
    sbom = parse_spdx(recorded["linux/amd64"]["SPDX"], SPDX)
    first = convert_sbom(sbom, SbomFormat.CYCLONEDX)
    assert convert_sbom(sbom, SbomFormat.CYCLONEDX) == first
    assert json.loads(first.text)["metadata"]["timestamp"] == "2026-11-26T13:36:02+00:00"


# -- schema validation ---------------------------------------------------------------------------
def test_vendored_spdx_schemas_are_the_official_ones() -> None:
    for version, name in SPDX_SCHEMAS.items():
        schema = json.loads((REPO_ROOT / "provcheck" / "sbom" / "schemas" / name).read_text())
        assert schema["title"] == version.replace("-", " ")
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_validation_problems_and_versions() -> None:
    doc = _packages(1)
    del doc["creationInfo"]
    report = validate_schema(SbomFormat.SPDX, doc)
    assert report.problems == (SchemaProblem("$", "'creationInfo' is a required property"),)
    # SPDX 2.2 has its own schema: copyrightText is required there
    old = _packages(1)
    old["spdxVersion"] = "SPDX-2.2"
    assert validate_schema(SbomFormat.SPDX, old).schema == "SPDX 2.2 JSON schema"
    assert not validate_schema(SbomFormat.SPDX, old).valid
    unknown = validate_schema(
        SbomFormat.CYCLONEDX, {"bomFormat": "CycloneDX", "specVersion": "1.2"}
    )
    assert [p.path for p in unknown.problems] == ["$.specVersion"]
    with pytest.raises(ValueError, match="at least 1"):
        validate_schema(SbomFormat.SPDX, doc, 0)


def test_sbom_export_and_start_up_do_not_import_cyclonedx() -> None:
    """Only a conversion loads cyclonedx-python-lib (about 150 ms CPU cold): the json export
    of the same image does not (bench/cold_start.py, section sbom)."""
    layout = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
    probe = (
        "import io, sys\nfrom contextlib import redirect_stdout\nfrom provcheck.cli import main\n"
        "with redirect_stdout(io.StringIO()):\n    code = main(sys.argv[1:])\n"
        "print(code, 'cyclonedx' in sys.modules)"
    )
    for args, loaded in (
        (["sbom", layout], "False"),
        (["sbom", layout, "--validate"], "False"),
        (["sbom", layout, "--format", "cyclonedx", "--platform", "linux/amd64"], "True"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
        )
        assert done.stdout.split() == ["0", loaded], (args, done.stderr)


def test_rewritten_licence_ids_and_purls_are_noted() -> None:
    purl = "pkg:docker/localhost%3A5000/lab/a@1?platform=linux%2Famd64"
    doc = spdx_document([{"name": "a", "license": "mit", "purl": purl}, {"name": "b"}])
    conversion = convert_sbom(parse_spdx(doc, SPDX), SbomFormat.CYCLONEDX)
    component = next(c for c in json.loads(conversion.text)["components"] if c["name"] == "a")
    assert component["licenses"][0]["license"]["id"] == "MIT"
    assert component["purl"] == "pkg:docker/localhost:5000/lab/a@1?platform=linux/amd64"
    assert {(d.loss, d.detail) for d in conversion.dropped} == {
        (Loss.LICENSE, "licence id"),
        (Loss.PURL, "purl"),
    }


def test_deep_containment_is_kept_within_the_projection_depth() -> None:
    doc = _packages(70)
    doc["relationships"] = [
        _rel(f"SPDXRef-Package-{i}", "CONTAINS", f"SPDXRef-Package-{i + 1}") for i in range(69)
    ]
    conversion = convert_sbom(parse_spdx(doc, SPDX), SbomFormat.CYCLONEDX)
    converted = parse_cyclonedx(json.loads(conversion.text), CDX)  # would refuse > 64 levels
    assert len(converted.components) == 70
    assert [(d.loss, d.count) for d in conversion.dropped] == [(Loss.CONTAINMENT, 1)]
