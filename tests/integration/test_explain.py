"""``provcheck explain`` and the cause codes of ``verify``: every cause produced by a
BuildKit-shaped variant (tests/oci_builder.py), read from an OCI layout and from the real
registry (distribution 2.8, which 404s the referrers API), with the fix text checked; and
``explain`` on every real case of fixtures/real."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from provcheck.cli import main
from provcheck.explain.causes import FIXES
from provcheck.report.causes import Cause
from provcheck.report.json import parse_report, render_json
from tests.oci_builder import (
    ImageBuilder,
    compact_bytes,
    descriptor,
    provenance_statement,
    spdx_statement,
)
from tests.oci_push import OCI_INDEX, push_layout, sha256_digest
from tests.paths import FIXTURES_DIR
from tests.registry import RealRegistry, RegistryServer

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "provcheck" / "explain" / "explain.schema.json").read_text()
)
REAL_CASES = sorted(p.name for p in (FIXTURES_DIR / "real").iterdir() if p.is_dir())
BASELINE = "rules:\n  provenance:\n    required: true\n  sbom:\n    required: true\n"
MAX_MODE = (
    "rules:\n  provenance:\n    required: true\n    mode: max\n  build-args:\n    secrets: deny\n"
)
INDEX_BOUND = "rules:\n  provenance:\n    required: true\n    min-trust: index-bound\n"


@dataclass
class Variant:
    """A built image as an OCI layout, with extra tags (the referrers fallback tag)."""

    layout: Path
    tags: dict[str, tuple[bytes, str]] = field(default_factory=dict)


def _layout(tmp: Path, builder: ImageBuilder, *, single: bool = False) -> Path:
    image = builder.build_single() if single else builder.build()
    return image.write_layout(tmp / "layout")


def _add_tag(layout: Path, tag: str, body: bytes, media_type: str, blobs: dict[str, bytes]) -> None:
    """Add ``body`` (and ``blobs``) to ``layout`` under ``tag``, as skopeo would."""
    for digest, data in {**blobs, sha256_digest(body): body}.items():
        (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).write_bytes(data)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"].append(
        descriptor(media_type, body, annotations={"org.opencontainers.image.ref.name": tag})
    )
    (layout / "index.json").write_bytes(compact_bytes(index))


def single_manifest(tmp: Path) -> Path:
    builder = ImageBuilder("single")
    builder.add_platform("linux/amd64")
    return _layout(tmp, builder, single=True)


def no_attestation_manifests(tmp: Path) -> Path:
    builder = ImageBuilder("bare")
    builder.add_platform("linux/amd64")
    builder.add_platform("linux/arm64")
    return _layout(tmp, builder)


def platform_not_attested(tmp: Path) -> Path:
    builder = ImageBuilder("half")
    amd64 = builder.add_platform("linux/amd64")
    builder.add_platform("linux/arm64")
    builder.attest(amd64, [provenance_statement(amd64.digest)])
    return _layout(tmp, builder)


def min_mode(tmp: Path) -> Path:
    builder = ImageBuilder("min")
    amd64 = builder.add_platform("linux/amd64")
    statement = provenance_statement(amd64.digest, mode="min", build_args={"VERSION": "1"})
    builder.attest(amd64, [statement])
    return _layout(tmp, builder)


def no_sbom(tmp: Path) -> Path:
    builder = ImageBuilder("nosbom")
    amd64 = builder.add_platform("linux/amd64")
    builder.attest(amd64, [provenance_statement(amd64.digest)])
    return _layout(tmp, builder)


def with_sbom(tmp: Path) -> Path:
    builder = ImageBuilder("full")
    amd64 = builder.add_platform("linux/amd64")
    builder.attest(amd64, [provenance_statement(amd64.digest), spdx_statement(amd64.digest)])
    return _layout(tmp, builder)


def unbound(tmp: Path) -> Path:
    """An index assembled from another build's attestation: the statement describes the other
    image's amd64 manifest, the index binds it to this one."""
    other = ImageBuilder("other").add_platform("linux/amd64")
    builder = ImageBuilder("reassembled")
    amd64 = builder.add_platform("linux/amd64")
    builder.attest(amd64, [provenance_statement(other.digest), spdx_statement(other.digest)])
    return _layout(tmp, builder)


def stored_elsewhere(tmp: Path) -> Path:
    """No attestation manifest in the index: BuildKit's OCI-artifact attestation manifest is a
    referrer of the amd64 manifest, listed in its ``sha256-<hex>`` fallback tag."""
    builder = ImageBuilder("referred")
    amd64 = builder.add_platform("linux/amd64")
    attestation = builder.attest(amd64, [provenance_statement(amd64.digest)], form="oci-artifact")
    builder.attestations.clear()  # not in the index
    layout = _layout(tmp, builder)
    entry = descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        attestation.manifest,
        artifactType="application/vnd.docker.attestation.manifest.v1+json",
    )
    fallback = compact_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    tag = amd64.digest.replace(":", "-")
    _add_tag(layout, tag, fallback, OCI_INDEX, attestation.blobs)
    return layout


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "single-manifest": single_manifest,
    "no-attestation-manifests": no_attestation_manifests,
    "platform-not-attested": platform_not_attested,
    "min-mode": min_mode,
    "no-sbom": no_sbom,
    "unbound": unbound,
    "below-trust": with_sbom,
    "stored-elsewhere": stored_elsewhere,
    "registry-no-referrers": stored_elsewhere,
}
WHERE = ["layout", "registry"]


@pytest.fixture
def reference(
    where: str, tmp_path: Path, registry_server: RegistryServer, unique_repository: str
) -> Callable[[str], str]:
    """The image a case of BUILDERS builds, as a reference: its OCI layout (``where`` is
    ``layout``) or the layout pushed to the registry."""

    def make(case: str) -> str:
        layout = BUILDERS[case](tmp_path)
        if where == "layout":
            return f"oci-layout://{layout}:1"
        push_layout(registry_server.url, layout, unique_repository)
        return f"{registry_server.host}/{unique_repository}:1"

    return make


def _explain(
    capsys: pytest.CaptureFixture[str], ref: str, *extra: str, code: int = 0
) -> dict[str, Any]:
    assert main(["explain", ref, "--format", "json", *extra]) == code
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    return document


def _verify(capsys: pytest.CaptureFixture[str], ref: str, policy: Path) -> list[dict[str, Any]]:
    main(["verify", ref, "--policy", str(policy), "--format", "json"])
    results: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["results"]
    return results


def _causes(document: dict[str, Any], platform: str | None) -> dict[str, dict[str, Any]]:
    """``{code: cause}`` of one platform (``None``: the image)."""
    if platform is None:
        items = document["causes"]
    else:
        items = next(p for p in document["platforms"] if p["platform"] == platform)["causes"]
    return {c["code"]: c for c in items}


def _result_causes(results: list[dict[str, Any]]) -> set[tuple[str, str | None, str | None]]:
    return {(r["rule"], r["platform"], r.get("cause")) for r in results}


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("apiVersion: provcheck/v1\nkind: Policy\n" + text)
    return path


# -- every cause, through a layout and the registry -------------------------------------------


@pytest.mark.parametrize("where", WHERE)
def test_single_manifest(
    reference: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = reference("single-manifest")
    document = _explain(capsys, ref)
    image = _causes(document, None)
    fix = image["single-manifest"]["fix"]
    assert "`docker buildx imagetools create -t DEST SRC`" in fix
    assert "`skopeo copy --all --preserve-digests docker://SRC docker://DEST`" in fix
    assert "--provenance=mode=max --sbom=true --push" in fix
    assert image["single-manifest"]["kind"] is None
    [platform] = document["platforms"]
    assert platform["missing"] == ["provenance", "sbom"]
    assert {(c["code"], c["kind"]) for c in platform["causes"]} == {
        ("single-manifest", "provenance"),
        ("single-manifest", "sbom"),
    }
    results = _verify(capsys, ref, _policy(tmp_path, BASELINE))
    assert _result_causes(results) == {
        ("provenance", "linux/amd64", "single-manifest"),
        ("sbom", "linux/amd64", "single-manifest"),
    }


@pytest.mark.parametrize("where", WHERE)
def test_no_attestation_manifests(
    reference: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = reference("no-attestation-manifests")
    document = _explain(capsys, ref)
    image = _causes(document, None)
    assert (
        "the index lists 2 image(s) and no attestation manifest"
        in (image["no-attestation-manifests"]["message"])
    )
    assert image["no-attestation-manifests"]["fix"] == FIXES[Cause.NO_ATTESTATION_MANIFESTS]
    assert "skopeo copy --all --preserve-digests" in FIXES[Cause.NO_ATTESTATION_MANIFESTS]
    for platform in ("linux/amd64", "linux/arm64"):
        assert set(_causes(document, platform)) == {"no-attestation-manifests"}
    results = _verify(capsys, ref, _policy(tmp_path, BASELINE))
    assert {r.get("cause") for r in results} == {"no-attestation-manifests"}
    assert len(results) == 4


@pytest.mark.parametrize("where", WHERE)
def test_platform_not_attested(
    reference: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = reference("platform-not-attested")
    document = _explain(capsys, ref)
    arm64 = _causes(document, "linux/arm64")
    assert set(arm64) == {"platform-not-attested"}
    cause = arm64["platform-not-attested"]
    assert "attestation manifests for linux/amd64, none for linux/arm64" in cause["message"]
    assert "docker buildx imagetools create" in cause["fix"]
    assert set(_causes(document, "linux/amd64")) == {"no-sbom"}
    results = _verify(capsys, ref, _policy(tmp_path, BASELINE))
    assert _result_causes(results) == {
        ("provenance", "linux/amd64", None),  # pass
        ("provenance", "linux/arm64", "platform-not-attested"),
        ("sbom", "linux/amd64", "no-sbom"),
        ("sbom", "linux/arm64", "platform-not-attested"),
    }


@pytest.mark.parametrize("where", WHERE)
def test_min_mode(
    reference: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = reference("min-mode")
    document = _explain(capsys, ref)
    [platform] = document["platforms"]
    assert platform["missing"] == ["sbom"]  # min-mode provenance is there, degraded
    assert platform["evidence"][0]["detail"] == "SLSA v0.2, min mode"
    cause = _causes(document, "linux/amd64")["min-mode"]
    assert cause["kind"] == "provenance"
    assert cause["fix"].startswith("build with `--provenance=mode=max`")
    policy = str(_policy(tmp_path, MAX_MODE))
    main(["verify", ref, "--policy", policy, "--format", "json"])
    text = capsys.readouterr().out
    by_rule = {r["rule"]: r for r in json.loads(text)["results"]}
    assert by_rule["provenance"]["status"] == "fail"
    assert by_rule["provenance"]["cause"] == "min-mode"
    assert by_rule["build-args"]["status"] == "incomplete"
    assert by_rule["build-args"]["cause"] == "min-mode"
    # the cause survives the JSON report both ways, and is in the text and SARIF reports
    assert render_json(parse_report(text)) == text
    report = parse_report(text)
    assert {r.rule: r.cause for r in report.results} == {
        "provenance": Cause.MIN_MODE,
        "build-args": Cause.MIN_MODE,
    }
    main(["verify", ref, "--policy", policy, "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    properties = [r["properties"] for r in sarif["runs"][0]["results"]]
    assert [p.get("cause") for p in properties] == ["min-mode", "min-mode"]
    main(["verify", ref, "--policy", policy])
    lines = capsys.readouterr().out.splitlines()
    assert any(
        x.startswith("FAIL       provenance") and x.endswith("[cause: min-mode]") for x in lines
    )


@pytest.mark.parametrize("where", WHERE)
def test_no_sbom(
    reference: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = reference("no-sbom")
    document = _explain(capsys, ref)
    cause = _causes(document, "linux/amd64")["no-sbom"]
    assert cause["kind"] == "sbom"
    assert cause["fix"] == "build with `--sbom=true` (or `--attest type=sbom`)"
    results = _verify(capsys, ref, _policy(tmp_path, BASELINE))
    assert _result_causes(results) == {
        ("provenance", "linux/amd64", None),
        ("sbom", "linux/amd64", "no-sbom"),
    }


@pytest.mark.parametrize("where", WHERE)
def test_unbound(
    reference: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = reference("unbound")
    document = _explain(capsys, ref)  # exit 0: a statement bound elsewhere is explained
    causes = _causes(document, "linux/amd64")
    assert set(causes) == {"unbound"}
    assert "bound to another manifest" in causes["unbound"]["message"]
    assert "docker buildx imagetools create" in causes["unbound"]["fix"]
    assert [p["kind"] for p in document["problems"]] == ["binding", "binding"]
    results = _verify(capsys, ref, _policy(tmp_path, BASELINE))
    assert {(r["rule"], r["status"], r.get("cause")) for r in results} == {
        ("evidence", "error", "unbound"),
        ("provenance", "error", "unbound"),
        ("sbom", "error", "unbound"),
    }


@pytest.mark.parametrize("where", WHERE)
def test_below_trust(
    reference: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = reference("below-trust")
    policy = _policy(tmp_path, INDEX_BOUND)
    assert _causes(_explain(capsys, ref), "linux/amd64") == {}  # nothing missing without it
    document = _explain(capsys, ref, "--policy", str(policy))
    assert document["minTrust"] == {"provenance": "index-bound"}
    cause = _causes(document, "linux/amd64")["below-trust"]
    assert cause["kind"] == "provenance"
    assert "1 provenance attestation(s) for linux/amd64 (1 unsigned)" in cause["message"]
    assert cause["fix"].startswith("pin the reference by digest (REPO@sha256:…)")
    results = _verify(capsys, ref, policy)
    assert _result_causes(results) == {("provenance", "linux/amd64", "below-trust")}
    # pinned by digest, the same attestation is index-bound: nothing is below the level
    digest = document["digest"]
    pinned = f"{ref.rsplit(':', 1)[0]}@{digest}"
    assert _causes(_explain(capsys, pinned, "--policy", str(policy)), "linux/amd64") == {}


@pytest.mark.parametrize("where", WHERE)
def test_stored_elsewhere_and_registry_no_referrers(
    where: str,
    reference: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = reference("stored-elsewhere")
    document = _explain(capsys, ref)
    [platform] = document["platforms"]
    [evidence] = platform["evidence"]
    assert (evidence["kind"], evidence["origin"], evidence["repository"]) == (
        "provenance",
        "referrers-tag",
        "image",
    )
    causes = _causes(document, "linux/amd64")
    assert set(causes) == {"stored-elsewhere", "no-sbom"}
    assert causes["stored-elsewhere"]["message"] == (
        "provenance for linux/amd64 is not in the index, but in the referrers fallback tag "
        "(1 statement(s))"
    )
    assert causes["stored-elsewhere"]["fix"] == FIXES[Cause.STORED_ELSEWHERE]
    image = _causes(document, None)
    assert set(image) == {"no-attestation-manifests", "registry-no-referrers"}
    said = image["registry-no-referrers"]["message"]
    who = (
        "an OCI layout has no referrers API"
        if where == "layout"
        else "the registry answered 404 to the referrers API"
    )
    amd64 = platform["digest"].removeprefix("sha256:")
    assert said.startswith(f"{who}, so the sha256-<hex> fallback tag was read for 2 digest(s): ")
    assert f"sha256-{amd64[:12]}… listed 1 referrer(s); 1 did not exist" in said
    assert "OCI 1.1 referrers API" in image["registry-no-referrers"]["fix"]
    lookups = {(x["referrers"], x["listed"]) for x in document["lookups"]}
    assert lookups == {("fallback-tag", 1), ("fallback-tag", None)}
    results = _verify(capsys, ref, _policy(tmp_path, BASELINE))
    assert _result_causes(results) == {
        ("provenance", "linux/amd64", None),  # found in the referrers fallback tag
        ("sbom", "linux/amd64", "no-sbom"),
    }


def test_every_cause_is_tested() -> None:
    assert set(BUILDERS) == {c.value for c in Cause}
    assert set(FIXES) == set(Cause) - {Cause.BELOW_TRUST}


# -- exit codes, usage -------------------------------------------------------------------------


def test_explain_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = no_sbom(tmp_path)
    assert main(["explain", f"oci-layout://{layout}:1"]) == 0  # evidence missing: still 0
    assert main(["explain", f"oci-layout://{layout}:1", "--platform", "linux/s390x"]) == 2
    assert "has no platform linux/s390x" in capsys.readouterr().err
    assert main(["explain", f"oci-layout://{tmp_path / 'absent'}:1"]) == 2
    assert main(["explain", "127.0.0.1:1/nothing/here:1", "--timeout", "2"]) == 3
    assert "provcheck: error:" in capsys.readouterr().err


def test_explain_exits_3_when_evidence_could_not_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered provenance layer: the explanation is printed (the provenance is missing, the
    problem says why) and the exit code is 3, as for every fetch or verification error."""
    builder = ImageBuilder("tampered")
    amd64 = builder.add_platform("linux/amd64")
    attestation = builder.attest(amd64, [provenance_statement(amd64.digest)])
    layer = json.loads(attestation.manifest)["layers"][0]["digest"]
    layout = builder.build().tampered(layer, b"{}").write_layout(tmp_path / "layout")
    document = _explain(capsys, f"oci-layout://{layout}:1", code=3)
    [platform] = document["platforms"]
    assert platform["missing"] == ["provenance", "sbom"]
    assert [p["kind"] for p in document["problems"]] == ["integrity"]


# -- the real cases ----------------------------------------------------------------------------

# case -> per platform, the cause codes
REAL_CAUSES: dict[str, dict[str, set[str]]] = {
    "a-single-min": {"linux/amd64": {"min-mode", "no-sbom"}},
    "b-multi-max": {p: {"no-sbom"} for p in ("linux/amd64", "linux/arm64", "linux/arm/v7")},
    "c-secrets-max": {"linux/amd64": {"no-sbom"}},
    "d-secret-mount": {"linux/amd64": {"no-sbom"}},
    "e1-syntax-tag": {"linux/amd64": {"no-sbom"}},
    "e3-syntax-evil": {"linux/amd64": {"no-sbom"}},
    "f-slsa-v1": {p: {"no-sbom"} for p in ("linux/amd64", "linux/arm64")},
    "g-sbom-generator": {p: set() for p in ("linux/amd64", "linux/arm64")},
    "h-no-attest": {"linux/amd64": {"single-manifest"}},
    "i-cosign": {p: {"no-sbom"} for p in ("linux/amd64", "linux/arm64")},
    "n1-default": {p: {"min-mode", "no-sbom"} for p in ("linux/amd64", "linux/arm64")},
}
# case -> lines (or their start) the text must hold
REAL_LINES: dict[str, list[str]] = {
    "a-single-min": [
        "platforms: linux/amd64",
        "  found    provenance  SLSA v0.2, min mode  in the index  sha256:549dbdf6fa00#layers/0  "
        "[unsigned]",
        "  note     provenance  [min-mode] provenance for linux/amd64 is min mode",
        "  missing  sbom        [no-sbom] no SBOM for linux/amd64: there is provenance but no SBOM",
        "fix [min-mode]: build with `--provenance=mode=max`",
        "summary: provenance on 1/1, sbom on 0/1 platform(s)",
    ],
    "b-multi-max": [
        "platforms: linux/amd64, linux/arm64, linux/arm/v7",
        "summary: provenance on 3/3, sbom on 0/3 platform(s)",
    ],
    "f-slsa-v1": ["  found    provenance  SLSA v1, max mode  in the index  "],
    "g-sbom-generator": [
        "  found    sbom        https://spdx.dev/Document  in the index  ",
        "summary: provenance on 2/2, sbom on 2/2 platform(s)",
    ],
    "h-no-attest": [
        "  missing  provenance  [single-manifest] (see image below)",
        "  missing              [single-manifest] the tag is one image manifest "
        "(application/vnd.docker.distribution.manifest.v2+json), not an index",
        "fix [single-manifest]: build and push with buildx",
        "summary: provenance on 0/1, sbom on 0/1 platform(s)",
    ],
    "i-cosign": [
        "  found    provenance  SLSA v0.2, max mode  in a cosign tag, covers every platform  "
        "sha256:3b86f99cacf5#layers/0  [unsigned]",
    ],
    "n1-default": ["  found    provenance  SLSA v1, min mode  in the index  "],
}


def _has_line(text: str, expected: str) -> bool:
    return any(line.startswith(expected) for line in text.splitlines())


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("case", REAL_CASES)
def test_explain_real_case(
    case: str,
    where: str,
    real_registry: RealRegistry,
    capsys: pytest.CaptureFixture[str],
) -> None:
    layout = FIXTURES_DIR / "real" / case / "oci-layout"
    ref = f"oci-layout://{layout}:1" if where == "layout" else real_registry.ref(case)
    document = _explain(capsys, ref)
    got = {p["platform"]: {c["code"] for c in p["causes"]} for p in document["platforms"]}
    assert got == REAL_CAUSES[case]
    image = _causes(document, None)
    notes = {n["code"]: n for n in document["notes"]}
    # the referrers API's absence is a cause only where evidence is missing, else a note
    complete = all(not p["missing"] for p in document["platforms"])
    assert set(image) - {"single-manifest"} == (set() if complete else {"registry-no-referrers"})
    assert set(notes) == ({"registry-no-referrers"} if complete else set())
    said = (notes if complete else image)["registry-no-referrers"]["message"]
    who = "the registry answered 404" if where == "registry" else "an OCI layout has no"
    assert said.startswith(f"{who} referrers API" if where == "layout" else who), said
    assert said.endswith(": none exists"), said  # no fallback tag holds anything here
    assert main(["explain", ref]) == 0
    text = capsys.readouterr().out
    if complete:  # a note, after what was found, and no fix for it
        assert "\nimage\n" not in text and "fix [" not in text, text
        assert _has_line(text, "note [registry-no-referrers]: "), text
    for line in REAL_LINES.get(case, []):
        assert _has_line(text, line), (line, text)
    assert text.startswith(f"image:     {ref}\n")


def test_below_trust_signed_says_which_signatures_were_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fixtures/signed/legacy-p256 (the real cosign 2.5): signed with p256; a policy that
    trusts another key finds the provenance below min-trust signed and says the signatures
    found were rejected; trusting p256, nothing is below it."""
    ref = f"oci-layout://{FIXTURES_DIR / 'signed' / 'legacy-p256'}:1"
    (tmp_path / "keys").mkdir()
    for key in ("other-p256", "p256"):
        data = (FIXTURES_DIR / "signed" / "keys" / f"{key}.pub").read_bytes()
        (tmp_path / "keys" / f"{key}.pub").write_bytes(data)
    rules = "rules:\n  provenance:\n    required: true\n    min-trust: signed\n"
    signatures = "  signatures:\n    required: true\n    keys: [keys/{}.pub]\n"
    other = _policy(tmp_path, rules + signatures.format("other-p256"))
    document = _explain(capsys, ref, "--policy", str(other))
    for platform in ("linux/amd64", "linux/arm64"):
        cause = _causes(document, platform)["below-trust"]
        assert cause["message"] == (
            f"1 provenance attestation(s) for {platform} (1 unsigned), none at the policy's "
            "min-trust signed"
        )
        assert cause["fix"].startswith(
            "sign it (`cosign attest --key KEY --type slsaprovenance IMAGE@DIGEST`"
        )
        assert cause["fix"].endswith(
            "; 2 signature(s) found were rejected: trust the key that made them"
        )
    results = _verify(capsys, ref, other)
    assert {r["platform"]: r.get("cause") for r in results if r["rule"] == "provenance"} == {
        "linux/amd64": "below-trust",
        "linux/arm64": "below-trust",
    }
    trusted = tmp_path / "trusted.yaml"
    trusted.write_text(other.read_text().replace("other-p256", "p256"))
    document = _explain(capsys, ref, "--policy", str(trusted))
    assert all("below-trust" not in _causes(document, p) for p in ("linux/amd64", "linux/arm64"))
    signed = [e for p in document["platforms"] for e in p["evidence"] if e["trust"] == "signed"]
    assert {(e["origin"], e["indexScoped"]) for e in signed} == {("cosign-tag", True)}
