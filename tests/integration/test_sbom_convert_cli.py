"""`provcheck sbom --format cyclonedx|spdx|original` and `--validate`, through the real CLI, on
the real BuildKit SBOMs (layout and registry), the fixture documents, and broken ones."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from provcheck.cli import main
from provcheck.sbom.convert import NOTE_PROPERTY, joined_licenses, spdx_ids
from provcheck.sbom.cyclonedx import parse_cyclonedx
from provcheck.sbom.model import Component, SbomFormat
from provcheck.sbom.schema import validate_schema
from provcheck.sbom.spdx import parse_spdx
from provcheck.sbom.structure import Relation, SbomStructure, read_structure
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.paths import FIXTURES_DIR, REAL_DIR
from tests.registry import RealRegistry
from tests.unit.sbom.helpers import fixture, sbom_statement, spdx_document

G = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
PLATFORMS = ("linux/amd64", "linux/arm64")
STRICT = JsonStrictValidator(SchemaVersion.V1_6)
Fields = tuple[str, str | None, str | None, str, str | None, str, tuple[tuple[str, str], ...]]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _recorded(platform: str) -> dict[str, Any]:
    recorded = json.loads((REAL_DIR / "g-sbom-generator" / "inspect.sbom.json").read_text())
    document: dict[str, Any] = recorded[platform]["SPDX"]
    return document


def _layout(tmp_path: Path, documents: list[Mapping[str, Any]], name: str = "layout") -> str:
    """A one-platform image whose attestations hold ``documents`` as SBOM statements."""
    builder = ImageBuilder("app")
    entry = builder.add_platform("linux/amd64")
    statements = [provenance_statement(entry.digest, platform="linux/amd64")]
    statements += [sbom_statement(d, subject_digest=entry.digest) for d in documents]
    builder.attest(entry, statements)
    return f"oci-layout://{builder.build().write_layout(tmp_path / name)}:1"


def _purl(purl: str | None) -> str | None:
    return None if purl is None else PackageURL.from_string(purl).to_string()


def _fields(c: Component) -> Fields:
    """What a conversion must keep, in a comparable form (purls canonical, hashes sorted)."""
    licenses = joined_licenses(c.licenses) if c.licenses else ""
    return (c.name, c.version, _purl(c.purl), licenses, c.supplier, c.type, tuple(sorted(c.hashes)))


def _elements(structure: SbomStructure, ids: Mapping[str, str] | None = None) -> dict[str, Fields]:
    return {(ids or {}).get(e.ref, e.ref): _fields(e.component) for e in structure.elements}


def _edges(
    structure: SbomStructure, relation: Relation, ids: Mapping[str, str] | None = None
) -> frozenset[tuple[str, str]]:
    m = ids or {}
    return frozenset((m.get(a, a), m.get(b, b)) for a, b in structure.of(relation))


def _implied(structure: SbomStructure) -> frozenset[tuple[str, str]]:
    """The containment CycloneDX adds: the described element holds every uncontained one."""
    if len(structure.described) != 1:
        return frozenset()
    root = structure.described[0]
    held = {b for _, b in structure.of(Relation.CONTAINS)}
    return frozenset((root, e.ref) for e in structure.elements if e.ref not in held | {root})


def _assert_same_as_spdx(original: Mapping[str, Any], converted: Mapping[str, Any]) -> None:
    """The CycloneDX conversion of an SPDX document keeps every element field by field, the
    described element, the dependencies and the containment (plus what CycloneDX implies)."""
    before = read_structure(parse_spdx(original, "https://spdx.dev/Document"))
    after = read_structure(parse_cyclonedx(converted, "https://cyclonedx.org/bom"))
    assert _elements(after) == _elements(before)
    assert after.described == before.described
    assert _edges(after, Relation.DEPENDS_ON) == _edges(before, Relation.DEPENDS_ON)
    contains = _edges(before, Relation.CONTAINS) | _implied(before)
    assert _edges(after, Relation.CONTAINS) == contains


def _notes(document: Mapping[str, Any]) -> list[str]:
    return [p["value"] for p in document["metadata"]["properties"] if p["name"] == NOTE_PROPERTY]


# -- SPDX -> CycloneDX ---------------------------------------------------------------------------
@pytest.mark.parametrize("platform", PLATFORMS)
def test_real_buildkit_spdx_converts_to_valid_cyclonedx(
    capsys: pytest.CaptureFixture[str], platform: str
) -> None:
    code, out, err = _run(capsys, "sbom", G, "--format", "cyclonedx", "--platform", platform)
    assert code == 0
    assert STRICT.validate_str(out) is None  # cyclonedx-python-lib's own verdict
    converted = json.loads(out)
    assert (converted["bomFormat"], converted["specVersion"]) == ("CycloneDX", "1.6")
    original = _recorded(platform)
    _assert_same_as_spdx(original, converted)
    # the described package is metadata.component, its 24 files are file components
    assert converted["metadata"]["component"]["name"] == "sbom-files"
    files = [c for c in converted["components"] if c["type"] == "file"]
    assert len(files) == len(original["files"]) == 24
    # what was dropped: on stderr, and in the document
    assert err.startswith("provcheck: note: converted SPDX-2.3 to CycloneDX 1.6; dropped")
    assert "24 x file field 'comment': CycloneDX components have no such field" in err
    assert "24 x file field 'comment': CycloneDX components have no such field" in _notes(converted)
    assert err.count("\n") == 1


def test_real_sbom_from_the_registry_converts_the_same(
    capsys: pytest.CaptureFixture[str], real_registry: RealRegistry
) -> None:
    ref = real_registry.ref("g-sbom-generator")
    code, out, _ = _run(capsys, "sbom", ref, "--format", "cyclonedx", "--platform", "linux/arm64")
    assert code == 0 and STRICT.validate_str(out) is None
    layout_code, layout_out, _ = _run(
        capsys, "sbom", G, "--format", "cyclonedx", "--platform", "linux/arm64"
    )
    assert (layout_code, layout_out) == (0, out)  # deterministic: same bytes from both


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES_DIR / "sbom" / "spdx-2.3-syft.json",
        FIXTURES_DIR / "sbom" / "spdx-2.2-syft.json",
        FIXTURES_DIR / "sbom-stores" / "documents" / "amd64.spdx.json",
        FIXTURES_DIR / "sbom-stores" / "documents" / "index.spdx.json",
    ],
    ids=lambda p: p.name,
)
def test_fixture_spdx_converts_field_by_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, path: Path
) -> None:
    original = json.loads(path.read_text())
    code, out, err = _run(capsys, "sbom", _layout(tmp_path, [original]), "--format", "cyclonedx")
    assert code == 0 and STRICT.validate_str(out) is None
    converted = json.loads(out)
    _assert_same_as_spdx(original, converted)
    before = read_structure(parse_spdx(original, "https://spdx.dev/Document"))
    implied = len(_implied(before))
    if implied:  # SPDX did not say the described package contains them: the note says so
        expected = f"{implied} x top-level component: CycloneDX reads it as part of"
        assert expected in err
        assert any(n.startswith(expected) for n in _notes(converted))


def test_relationships_nesting_and_losses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = spdx_document(
        [
            {"name": "root", "version": "1"},
            {"name": "lib", "version": "2", "purl": "pkg:npm/lib@2", "license": "MIT"},
            {"name": "dep", "version": "3"},
            {"name": "inner", "version": "4"},
        ]
    )
    packages = document["packages"]
    packages[1]["checksums"] = [
        {"algorithm": "SHA256", "checksumValue": "ab" * 32},
        {"algorithm": "SHA224", "checksumValue": "cd" * 28},
    ]
    packages[1]["supplier"] = "Organization: Example Corp"
    packages[1]["originator"] = "Person: Someone"
    r = "SPDXRef-Package-"
    document["relationships"] = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": f"{r}0",
        },
        {"spdxElementId": f"{r}0", "relationshipType": "CONTAINS", "relatedSpdxElement": f"{r}1"},
        {"spdxElementId": f"{r}1", "relationshipType": "CONTAINS", "relatedSpdxElement": f"{r}3"},
        {"spdxElementId": f"{r}2", "relationshipType": "CONTAINS", "relatedSpdxElement": f"{r}3"},
        {"spdxElementId": f"{r}1", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": f"{r}2"},
        {
            "spdxElementId": f"{r}2",
            "relationshipType": "DEV_DEPENDENCY_OF",
            "relatedSpdxElement": f"{r}3",
        },
        {
            "spdxElementId": f"{r}1",
            "relationshipType": "GENERATED_FROM",
            "relatedSpdxElement": f"{r}2",
        },
        {
            "spdxElementId": f"{r}1",
            "relationshipType": "DEPENDS_ON",
            "relatedSpdxElement": "SPDXRef-gone",
        },
    ]
    code, out, err = _run(capsys, "sbom", _layout(tmp_path, [document]), "--format", "cyclonedx")
    assert code == 0 and STRICT.validate_str(out) is None
    converted = json.loads(out)
    assert converted["metadata"]["component"]["bom-ref"] == f"{r}0"
    lib = next(c for c in converted["components"] if c["name"] == "lib")
    assert [c["name"] for c in lib["components"]] == ["inner"]  # first container wins
    assert lib["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert lib["supplier"] == {"name": "Example Corp"}
    assert lib["licenses"] == [{"license": {"id": "MIT", "acknowledgement": "concluded"}}]
    assert {d["ref"]: d.get("dependsOn", []) for d in converted["dependencies"]}[f"{r}1"] == [
        f"{r}2"
    ]
    assert {(d["ref"], tuple(d.get("dependsOn", []))) for d in converted["dependencies"]} >= {
        (f"{r}3", (f"{r}2",))
    }
    for note in (
        "1 x SHA224 checksum: CycloneDX has no such algorithm",
        "1 x package field 'originator': CycloneDX components have no such field",
        "1 x GENERATED_FROM relationship: CycloneDX has no such relation",
        "1 x DEV_DEPENDENCY_OF relationship: kept as a plain dependency",
        "1 x relationship: names an element not in the document",
        "1 x containment relationship: a CycloneDX component nests in one parent",
        "1 x top-level component: CycloneDX reads it as part of metadata.component",
    ):
        assert note in err
        assert any(n.startswith(note) for n in _notes(converted))


# -- CycloneDX -> SPDX, round trip, same format ---------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        FIXTURES_DIR / "sbom" / "cyclonedx-1.6.json",
        FIXTURES_DIR / "sbom" / "cyclonedx-1.5.json",
        FIXTURES_DIR / "sbom-stores" / "documents" / "amd64.cdx.json",
    ],
    ids=lambda p: p.name,
)
def test_cyclonedx_converts_to_valid_spdx(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, path: Path
) -> None:
    original = json.loads(path.read_text())
    code, out, err = _run(capsys, "sbom", _layout(tmp_path, [original]), "--format", "spdx")
    assert code == 0
    converted = json.loads(out)
    assert validate_schema(SbomFormat.SPDX, converted).valid
    assert converted["spdxVersion"] == "SPDX-2.3"
    before = read_structure(parse_cyclonedx(original, "https://cyclonedx.org/bom"))
    after = read_structure(parse_spdx(converted, "https://spdx.dev/Document"))
    ids = spdx_ids(e.ref for e in before.elements)
    # a licence name with no SPDX id is a LicenseRef- whose name the document keeps
    names = {x["licenseId"]: x["name"] for x in converted.get("hasExtractedLicensingInfos", [])}
    renamed = {
        ref: (*fields[:3], names.get(fields[3], fields[3]), *fields[4:])
        for ref, fields in _elements(after).items()
    }
    assert renamed == _elements(before, ids)
    assert bool(names) == ("licence name without an SPDX id" in err)
    for relation in Relation:
        assert _edges(after, relation) == _edges(before, relation, ids)
    assert err.startswith(
        f"provcheck: note: converted CycloneDX {original['specVersion']} to SPDX-2.3"
    )
    assert "Converted from CycloneDX" in converted["creationInfo"]["comment"]


def test_named_licence_and_unknown_sections_are_noted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    original = fixture("cyclonedx-1.6.json")
    original["services"] = [{"name": "api"}]
    original["components"][0]["properties"] = [{"name": "x", "value": "y"}]
    code, out, err = _run(capsys, "sbom", _layout(tmp_path, [original]), "--format", "spdx")
    assert code == 0
    converted = json.loads(out)
    assert validate_schema(SbomFormat.SPDX, converted).valid
    assert "1 x document section 'services': SPDX has no such section" in err
    assert "1 x component field 'properties': SPDX packages have no such field" in err
    comment = converted["creationInfo"]["comment"]
    assert "1 x document section 'services'" in comment
    named = [
        c for c in original["components"] if "name" in c.get("licenses", [{}])[0].get("license", {})
    ]
    if named:
        assert "licence name without an SPDX id" in err
        assert converted["hasExtractedLicensingInfos"]


def test_round_trip_spdx_cyclonedx_spdx_keeps_the_components(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    original = _recorded("linux/amd64")
    code, cdx, _ = _run(capsys, "sbom", G, "--format", "cyclonedx", "--platform", "linux/amd64")
    assert code == 0
    code, back, _ = _run(capsys, "sbom", _layout(tmp_path, [json.loads(cdx)]), "--format", "spdx")
    assert code == 0
    first = read_structure(parse_spdx(original, "https://spdx.dev/Document"))
    again = read_structure(parse_spdx(json.loads(back), "https://spdx.dev/Document"))
    assert _elements(again) == _elements(first)
    assert _edges(again, Relation.CONTAINS) == _edges(first, Relation.CONTAINS)


def test_same_format_and_original_give_the_stored_document(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for fmt in ("spdx", "original"):
        code, out, err = _run(capsys, "sbom", G, "--format", fmt, "--platform", "linux/amd64")
        assert (code, err) == (0, "")
        assert json.loads(out) == _recorded("linux/amd64")
    cyclonedx = fixture("cyclonedx-1.6.json")
    layout = _layout(tmp_path, [cyclonedx])
    for fmt in ("cyclonedx", "original"):
        code, out, err = _run(capsys, "sbom", layout, "--format", fmt)
        assert (code, err, json.loads(out)) == (0, "", cyclonedx)


# -- --validate ----------------------------------------------------------------------------------
def test_validate_real_sboms(
    capsys: pytest.CaptureFixture[str], real_registry: RealRegistry
) -> None:
    for ref in (G, real_registry.ref("g-sbom-generator")):
        code, out, err = _run(capsys, "sbom", ref, "--validate")
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert [line.split()[:2] for line in lines] == [
            ["valid:", "linux/amd64"],
            ["valid:", "linux/arm64"],
        ]
        assert all(line.endswith(": SPDX 2.3 JSON schema") for line in lines)


def test_validate_valid_cyclonedx(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    layout = _layout(tmp_path, [fixture("cyclonedx-1.6.json"), fixture("cyclonedx-1.5.json")])
    code, out, _ = _run(capsys, "sbom", layout, "--validate")
    assert code == 0
    assert [line.rsplit(": ", 1)[1] for line in out.splitlines()] == [
        "CycloneDX 1.6 JSON schema",
        "CycloneDX 1.5 JSON schema",
    ]


def test_validate_names_the_document_path_and_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = spdx_document([{"name": "a", "version": "1"}, {"name": "b"}])
    del missing["packages"][1]["downloadLocation"]  # required; the projection does not need it
    wrong_type = spdx_document([{"name": "a", "version": "1"}])
    wrong_type["packages"][0]["versionInfo"] = 5  # the projection refuses it too
    bad_cdx = fixture("cyclonedx-1.6.json")
    bad_cdx["components"][0]["type"] = 7
    layout = _layout(tmp_path, [missing, wrong_type, bad_cdx, spdx_document([{"name": "ok"}])])
    code, out, err = _run(capsys, "sbom", layout, "--validate")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("invalid: linux/amd64 sha256:")
    assert lines[0].endswith("#layers/1: SPDX 2.3 JSON schema: 1 error(s)")
    assert lines[1] == "  $.packages[1]: 'downloadLocation' is a required property"
    assert lines[2].endswith("#layers/2: SPDX 2.3 JSON schema: 1 error(s)")
    assert lines[3] == "  $.packages[0].versionInfo: 5 is not of type 'string'"
    assert lines[4].endswith("#layers/3: CycloneDX 1.6 JSON schema: 2 error(s)") or lines[
        4
    ].endswith("#layers/3: CycloneDX 1.6 JSON schema: 1 error(s)")
    assert any(line.startswith("  $.components[0].type: 7 is not") for line in lines)
    assert lines[-1].startswith("valid: linux/amd64") and lines[-1].endswith(
        "#layers/4: SPDX 2.3 JSON schema"
    )
    # the projection's refusal is still a warning, and does not turn the verdict into exit 3
    assert "malformed" in err and "versionInfo must be a string" in err


def test_validate_only_broken_documents_and_max_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = spdx_document([{"name": f"p{n}"} for n in range(5)])
    for package in broken["packages"]:
        package["versionInfo"] = 1
    code, out, _ = _run(
        capsys, "sbom", _layout(tmp_path, [broken]), "--validate", "--max-errors", "2"
    )
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith(": SPDX 2.3 JSON schema: 2 error(s) (more not shown)")
    assert lines[1:] == [
        "  $.packages[0].versionInfo: 1 is not of type 'string'",
        "  $.packages[1].versionInfo: 1 is not of type 'string'",
    ]


def test_validate_fetch_error_and_bad_max_errors(
    capsys: pytest.CaptureFixture[str], real_registry: RealRegistry
) -> None:
    missing = real_registry.ref("g-sbom-generator", tag="no-such-tag")
    code, out, err = _run(capsys, "sbom", missing, "--validate")
    assert (code, out) == (3, "")
    assert "no-such-tag" in err
    code, out, err = _run(capsys, "sbom", G, "--validate", "--max-errors", "0")
    assert (code, out) == (2, "")
    assert "--max-errors must be at least 1" in err
    code, out, err = _run(capsys, "sbom", G, "--validate", "--format", "json")
    assert (code, out) == (2, "")
    assert "drop --format" in err


def test_a_checksum_that_is_not_a_digest_is_dropped_so_the_cyclonedx_stays_valid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A hostile SPDX checksum value (not hex, or no digest's length) would make the converted
    document fail CycloneDX's schema: it is dropped and noted, the good one kept."""
    document = spdx_document([{"name": "lib", "version": "1"}])
    document["packages"][0]["checksums"] = [
        {"algorithm": "SHA256", "checksumValue": "not-hex"},
        {"algorithm": "SHA1", "checksumValue": "ab" * 19},
        {"algorithm": "SHA512", "checksumValue": "cd" * 64},
    ]
    code, out, err = _run(capsys, "sbom", _layout(tmp_path, [document]), "--format", "cyclonedx")
    assert code == 0
    assert not STRICT.validate_str(out)
    (component,) = json.loads(out)["components"]
    assert component["hashes"] == [{"alg": "SHA-512", "content": "cd" * 64}]
    assert "1 x SHA256 checksum: not the hex of a digest" in err
    assert "1 x SHA1 checksum: not the hex of a digest" in err


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_timestamp_out_of_range_in_utc_converts_as_no_timestamp(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stamp: str
) -> None:
    """A CycloneDX ``metadata.timestamp`` past datetime's range once in UTC was an internal
    error (OverflowError, exit 3); it is treated as absent: valid SPDX with a ``created``."""
    original = fixture("cyclonedx-1.6.json")
    original.setdefault("metadata", {})["timestamp"] = stamp
    code, out, err = _run(capsys, "sbom", _layout(tmp_path, [original]), "--format", "spdx")
    assert code == 0, err
    converted = json.loads(out)
    assert validate_schema(SbomFormat.SPDX, converted).valid
    assert converted["creationInfo"]["created"].endswith("Z")


# -- the caps: a hostile document is refused, exit 3, nothing written ----------------------------
def _over_the_relationship_cap(fmt: str) -> dict[str, Any]:
    """A small document with one relationship more than a conversion takes."""
    from provcheck.sbom.convert import MAX_CONVERTED_RELATIONSHIPS
    from tests.unit.sbom.helpers import cyclonedx_document

    if fmt == "spdx":
        doc = spdx_document([{"name": "a"}, {"name": "b"}])
        doc["relationships"] = [
            {
                "spdxElementId": "SPDXRef-Package-0",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": "SPDXRef-Package-1",
            }
        ] * (MAX_CONVERTED_RELATIONSHIPS + 1)
        return doc
    doc = cyclonedx_document([{"type": "library", "name": "a", "bom-ref": "a"}])
    doc["dependencies"] = [{"ref": "a", "dependsOn": ["a"] * MAX_CONVERTED_RELATIONSHIPS}]
    return doc


def _over_the_element_cap() -> dict[str, Any]:
    from provcheck.sbom.convert import MAX_CONVERTED_ELEMENTS

    return spdx_document([{"name": f"p{n}"} for n in range(MAX_CONVERTED_ELEMENTS + 1)])


@pytest.mark.parametrize(
    ("source", "target", "says"),
    [
        ("spdx", "cyclonedx", "has 80001 relationships, more than the 80000"),
        ("cyclonedx", "spdx", "has 80001 relationships, more than the 80000"),
        ("elements", "cyclonedx", "has 30001 elements, more than the 30000"),
    ],
)
def test_a_document_over_a_conversion_cap_exits_3_and_leaves_no_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, source: str, target: str, says: str
) -> None:
    doc = _over_the_element_cap() if source == "elements" else _over_the_relationship_cap(source)
    ref = _layout(tmp_path, [doc])
    output = tmp_path / "out.json"
    output.write_text("an export of an earlier run\n")
    code, out, err = _run(capsys, "sbom", ref, "--format", target, "--output", str(output))
    assert code == 3, err
    assert says in err and "not converted (export it with --format original)" in err, err
    assert out == "" and "note: converted" not in err  # no partial document, no note
    assert not output.exists()  # never the stale export
    # the original is still exported as it is stored
    code, out, err = _run(capsys, "sbom", ref, "--format", "original")
    assert code == 0, err
    assert len(out) > 1000
