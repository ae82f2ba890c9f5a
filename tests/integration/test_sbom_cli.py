"""`provcheck sbom` and the SBOM and signature parts of `inspect`, on the real images."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.paths import REAL_DIR, REPO_ROOT
from tests.unit.sbom.helpers import sbom_statement, spdx_document

SCHEMA = json.loads((REPO_ROOT / "provcheck" / "views" / "inspect.schema.json").read_text())
G = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
I_COSIGN = f"oci-layout://{REAL_DIR / 'i-cosign' / 'oci-layout'}:1"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _recorded_spdx(platform: str) -> dict[str, Any]:
    recorded = json.loads((REAL_DIR / "g-sbom-generator" / "inspect.sbom.json").read_text())
    document: dict[str, Any] = recorded[platform]["SPDX"]
    return document


def test_json_export_lists_each_platform(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "sbom", G)
    assert (code, err) == (0, "")
    sboms = json.loads(out)["sboms"]
    assert [s["platform"] for s in sboms] == ["linux/amd64", "linux/arm64"]
    for entry in sboms:
        expected = _recorded_spdx(entry["platform"])
        assert entry["format"] == "spdx" and entry["specVersion"] == "SPDX-2.3"
        files = {f["fileName"] for f in expected["files"]}
        assert files <= {c["name"] for c in entry["components"]}
        assert entry["source"].endswith("#layers/0")


def test_csv_export(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "sbom", G, "--format", "csv", "--platform", "linux/arm64")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert {r["platform"] for r in rows} == {"linux/arm64"}
    assert len(rows) == len(_recorded_spdx("linux/arm64")["files"]) + 1


def test_original_document_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "sbom.spdx.json"
    code, out, _ = _run(
        capsys, "sbom", G, "--format", "spdx", "--platform", "linux/amd64", "--output", str(output)
    )
    assert (code, out) == (0, "")
    assert json.loads(output.read_text()) == _recorded_spdx("linux/amd64")


def test_one_document_needs_one_platform(capsys: pytest.CaptureFixture[str]) -> None:
    # a usage mistake (exit 2), with the way out: --platform and the platforms there are
    code, out, err = _run(capsys, "sbom", G, "--format", "spdx")
    assert (code, out) == (2, "")
    assert "pick one with --platform (linux/amd64, linux/arm64)" in err
    assert err.count("\n") == 1


def test_image_without_sbom(capsys: pytest.CaptureFixture[str]) -> None:
    b_multi = f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:1"
    code, out, err = _run(capsys, "sbom", b_multi)
    assert (code, out) == (3, "")
    assert "no usable SBOM is bound to" in err


def test_inspect_json_summarises_sboms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "inspect", G, "--format", "json")
    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert code == 0
    summaries = [
        s["sbom"]
        for image in document["images"]
        for m in image["attestationManifests"]
        for s in m["statements"]
        if s["kind"] == "sbom"
    ]
    assert summaries == [{"format": "spdx", "specVersion": "SPDX-2.3", "components": 25}] * 2


@pytest.mark.parametrize(("key", "accepted"), [("i-cosign/cosign.pub", True), (None, False)])
def test_inspect_json_lists_signatures(
    key: str | None, accepted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["inspect", I_COSIGN, "--format", "json"]
    if key:
        args += ["--key", str(REAL_DIR / key)]
    code, out, _ = _run(capsys, *args)
    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert code == 0
    kinds = sorted((s["kind"], s["accepted"]) for s in document["signatures"])
    assert kinds == [("attestation", accepted), ("image-signature", accepted)]
    cosign = [
        s
        for image in document["images"]
        for m in image["attestationManifests"]
        if m["origin"] == "cosign-tag"
        for s in m["statements"]
    ]
    assert [s["binding"]["status"] for s in cosign] == ["index", "index"]
    assert {s["trust"] for s in cosign} == {"signed" if accepted else "unsigned"}


def test_inspect_provenance_format_ignores_signature_stores(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """buildx reads the index only; so does the buildx-compatible output."""
    code, out, _ = _run(capsys, "inspect", I_COSIGN, "--format", "provenance")
    expected = (REAL_DIR / "i-cosign" / "inspect.provenance.json").read_text()
    assert code == 0 and out.rstrip("\n") == expected.rstrip("\n")


@pytest.mark.parametrize("case", ["sbom-stores/oras-referrers", "sbom-stores/cosign-att"])
def test_store_reads_give_the_same_bytes_every_time(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stores are read concurrently; the output must not depend on which answer came first."""
    ref = f"oci-layout://{REPO_ROOT / 'fixtures' / case}:1"
    outputs = set()
    for _ in range(8):
        code, out, _ = _run(capsys, "inspect", ref, "--format", "json")
        assert code == 0
        outputs.add(out)
    assert len(outputs) == 1
    origins = {
        m["origin"]
        for image in json.loads(outputs.pop())["images"]
        for m in image["attestationManifests"]
    }
    assert origins - {"index"}


def _with_malformed_sbom(tmp_path: Path, *, good: bool) -> str:
    """A one-platform layout whose SBOM attestations are a readable SPDX document (when
    ``good``) and one whose ``packages`` is not a list."""
    builder = ImageBuilder("app")
    entry = builder.add_platform("linux/amd64")
    documents = [spdx_document([{"name": "a", "version": "1"}])] if good else []
    documents.append({"spdxVersion": "SPDX-2.3", "packages": "oops"})
    statements = [provenance_statement(entry.digest, platform="linux/amd64")]
    statements += [sbom_statement(d, subject_digest=entry.digest) for d in documents]
    builder.attest(entry, statements)
    return f"oci-layout://{builder.build().write_layout(tmp_path / 'layout')}:1"


def test_a_malformed_sbom_beside_good_ones_is_named_and_fails_closed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the readable SBOM is exported, the malformed one is named on stderr, and the exit
    # status says not everything was exported
    code, out, err = _run(capsys, "sbom", _with_malformed_sbom(tmp_path, good=True))
    assert code == 3
    (sbom,) = json.loads(out)["sboms"]
    assert (sbom["platform"], [c["name"] for c in sbom["components"]]) == ("linux/amd64", ["a"])
    assert sbom["source"].endswith("#layers/1")
    (line,) = [x for x in err.splitlines() if "SBOM" in x]
    assert line.startswith("provcheck: warning: malformed: SBOM sha256:")
    assert "#layers/2: /predicate/packages must be a list" in line
    assert line.endswith(": not used")


def test_only_malformed_sboms_export_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(
        capsys, "sbom", _with_malformed_sbom(tmp_path, good=False), "--format", "csv"
    )
    assert (code, out) == (3, "")
    assert "warning: malformed: SBOM sha256:" in err
    assert "#layers/1: /predicate/packages must be a list, not str: not used" in err
    assert err.splitlines()[-1].endswith("can be read: 1 malformed")
