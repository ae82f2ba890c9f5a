from __future__ import annotations

import json
from typing import Any

import pytest

from provcheck.attestation.statement import parse_statement
from provcheck.errors import SbomError
from provcheck.sbom import SbomFormat, parse_sbom, sbom_format
from provcheck.sbom.cyclonedx import validate_cyclonedx_schema
from provcheck.sbom.model import MAX_COMPONENTS
from tests.paths import real_case
from tests.unit.sbom.helpers import cyclonedx_document, fixture, parsed, spdx_document

G_SBOM_AMD64 = "658d9ae30607613da4bf10dd0dd1284f6f2b75eaea821d862c6bcfaacc3cb98b"


@pytest.mark.parametrize("name", ["spdx-2.2-syft.json", "spdx-2.3-syft.json"])
def test_spdx_projection(name: str) -> None:
    sbom = parse_sbom(parsed(fixture(name)))
    assert sbom.format is SbomFormat.SPDX
    assert len(sbom) == 4
    pyyaml, xz, mystery, binary = sbom.components
    assert (pyyaml.name, pyyaml.version, pyyaml.purl) == (
        "PyYAML",
        "5.3.1",
        "pkg:pypi/PyYAML@5.3.1",
    )
    assert pyyaml.licenses == ("MIT",)  # concluded is NOASSERTION, so the declared one
    assert pyyaml.supplier == "PyYAML"
    assert pyyaml.hashes == (("sha256", "ab" * 32),)
    assert pyyaml.pointer == "/predicate/packages/0"
    assert xz.licenses == ("GPL-2.0-or-later AND LGPL-2.1-or-later",)
    assert xz.purl is not None and xz.purl.startswith("pkg:deb/debian/xz-utils@5.6.1-1")
    assert mystery.licenses == () and mystery.purl is None and mystery.version is None
    assert (binary.type, binary.name, binary.pointer) == (
        "file",
        "/usr/bin/xz",
        "/predicate/files/0",
    )
    assert binary.hashes == (("sha1", "0" * 40),)


def test_spdx_purpose_becomes_the_component_type() -> None:
    sbom = parse_sbom(parsed(fixture("spdx-2.3-syft.json")))
    assert [c.type for c in sbom.components] == ["library", "operating-system", "library", "file"]


@pytest.mark.parametrize("version", ["1.4", "1.5", "1.6"])
def test_cyclonedx_projection(version: str) -> None:
    doc = fixture(f"cyclonedx-{version}.json")
    sbom = parse_sbom(parsed(doc))
    assert (sbom.format, sbom.spec_version, sbom.name) == (SbomFormat.CYCLONEDX, version, "app")
    names = [c.name for c in sbom.components]
    assert names == [
        "event-stream",
        "golang.org/x/net",
        "golang.org/x/net/http2",  # nested components follow their parent
        "classpath-lib",
        "named-license",
        "/etc/passwd",
    ]
    es, net, http2, java, named, passwd = sbom.components
    assert es.hashes == (("sha256", "cd" * 32),) and es.supplier == "dominictarr"
    assert es.licenses == ("MIT",)
    assert net.licenses == ("BSD-3-Clause OR AGPL-3.0-only",)
    assert http2.pointer == "/predicate/components/1/components/0"
    assert java.licenses == ("GPL-2.0-only WITH Classpath-exception-2.0",)
    assert named.licenses == ("Apache License 2.0",)
    assert passwd.type == "file"
    validate_cyclonedx_schema(doc)  # the fixtures are valid CycloneDX


def test_real_g_sbom_generator_spdx() -> None:
    blob = real_case("g-sbom-generator") / "oci-layout" / "blobs" / "sha256" / G_SBOM_AMD64
    sbom = parse_sbom(parse_statement(blob.read_bytes()))
    assert (sbom.format, sbom.spec_version, sbom.name) == (SbomFormat.SPDX, "SPDX-2.3", "sbom")
    assert len(sbom) == 25  # one package and the 24 files
    assert sbom.components[0].name == "sbom-files" and sbom.components[0].licenses == ()
    assert sum(c.type == "file" for c in sbom.components) == 24
    assert sbom.components[1].name == "./etc/group"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("spdx-packages-not-a-list.json", "/predicate/packages must be a list"),
        ("spdx-package-without-name.json", "/predicate/packages/0 has no name"),
        ("spdx-3.0.json", "SPDX-3.0 is not supported"),
        ("spdx-version-missing.json", "spdxVersion is missing"),
        ("cyclonedx-1.2-unsupported.json", "specVersion '1.2' is not supported"),
        ("cyclonedx-components-wrong-type.json", "/predicate/components/0/version must be a str"),
        ("cyclonedx-license-without-id.json", "neither an id nor a name"),
    ],
)
def test_malformed_documents(name: str, message: str) -> None:
    with pytest.raises(SbomError, match=message):
        parse_sbom(parsed(fixture(name)))


def test_wrong_format_for_the_predicate_type() -> None:
    with pytest.raises(
        SbomError, match=r"predicate type is https://spdx\.dev/Document but the doc"
    ):
        parse_sbom(parsed(fixture("cyclonedx-1.6.json"), "https://spdx.dev/Document"))
    with pytest.raises(SbomError, match="but the document is SPDX"):
        parse_sbom(parsed(fixture("spdx-2.3-syft.json"), "https://cyclonedx.org/bom/v1.6"))
    with pytest.raises(SbomError, match="SPDX 3 is not supported"):
        parse_sbom(parsed(fixture("spdx-2.3-syft.json"), "https://spdx.dev/Document/v3"))
    with pytest.raises(SbomError, match="not an SBOM predicate type"):
        parse_sbom(parsed(fixture("spdx-2.3-syft.json"), "https://slsa.dev/provenance/v1"))


@pytest.mark.parametrize(
    "predicate",
    [
        {},
        {"bomFormat": "CycloneDX"},
        {"spdxVersion": 2.3},
        {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [None]},
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "components": [{"name": "x", "hashes": [{"alg": "SHA-1"}]}],
        },
        {"spdxVersion": "SPDX-2.3", "packages": [{"name": "x", "checksums": "abc"}]},
        {"spdxVersion": "SPDX-2.3", "packages": [{"name": "x", "externalRefs": [1]}]},
    ],
)
def test_truncated_or_odd_predicates_raise_sbom_error(predicate: dict[str, Any]) -> None:
    with pytest.raises(SbomError):
        parse_sbom(
            parsed(
                predicate,
                "https://cyclonedx.org/bom"
                if "bomFormat" in predicate
                else "https://spdx.dev/Document",
            )
        )


def test_too_many_components(monkeypatch: pytest.MonkeyPatch) -> None:
    import provcheck.sbom.cyclonedx as cdx
    import provcheck.sbom.spdx as spdx

    monkeypatch.setattr(spdx, "MAX_COMPONENTS", 3)
    monkeypatch.setattr(cdx, "MAX_COMPONENTS", 3)
    with pytest.raises(SbomError, match="more than the 3 allowed"):
        parse_sbom(parsed(spdx_document([{"name": f"p{i}"} for i in range(4)])))
    with pytest.raises(SbomError, match="more than 3 components"):
        parse_sbom(parsed(cyclonedx_document([{"name": f"p{i}"} for i in range(4)])))
    assert MAX_COMPONENTS == 1_000_000


def test_deeply_nested_components_are_refused_without_recursion_error() -> None:
    """Nested 70 deep (141 JSON levels, under the loader's 200): the CycloneDX limit of 64."""
    inner: dict[str, Any] = {"name": "leaf"}
    for i in range(70):
        inner = {"name": f"c{i}", "components": [inner]}
    with pytest.raises(SbomError, match="nest more than"):
        parse_sbom(parsed(cyclonedx_document([inner])))


def test_sbom_format_by_predicate_type() -> None:
    assert sbom_format("https://cyclonedx.org/bom/v1.6") is SbomFormat.CYCLONEDX
    assert sbom_format("https://spdx.dev/Document/v2.3") is SbomFormat.SPDX


def test_schema_validation_is_the_library_verdict_and_catches_duplicates() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    duplicate = fixture("cyclonedx-duplicate-components.json")
    with pytest.raises(SbomError, match="is not unique"):
        validate_cyclonedx_schema(duplicate)
    library = JsonStrictValidator(SchemaVersion.V1_6)
    assert library.validate_str(json.dumps(duplicate)) is not None
    assert library.validate_str(json.dumps(fixture("cyclonedx-1.6.json"))) is None
    bad = fixture("cyclonedx-1.6.json")
    bad["components"][0]["type"] = "spaceship"
    with pytest.raises(SbomError, match="/components/0/type"):
        validate_cyclonedx_schema(bad)


def test_cyclonedx_schema_files_exist() -> None:
    from pathlib import Path

    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT

    for version in (SchemaVersion.V1_4, SchemaVersion.V1_5, SchemaVersion.V1_6):
        path = BOM_JSON_STRICT[version]
        assert path is not None and Path(path).is_file()
