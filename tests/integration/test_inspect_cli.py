"""`provcheck inspect` end to end: real BuildKit images through a real registry and OCI layouts,
compared with what `docker buildx imagetools inspect` recorded; synthetic edge cases pushed into
the same registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from provcheck.cli import main
from tests.oci_builder import (
    ImageBuilder,
    provenance_statement,
    set_subject_digest,
    spdx_statement,
)
from tests.paths import REAL_CASES, REAL_DIR
from tests.registry import RegistryServer

Run = Callable[..., tuple[int, str, str]]

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "provcheck" / "views" / "inspect.schema.json").read_text()
)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Call the CLI in-process and return (exit code, stdout, stderr)."""

    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def _layout_ref(case: str) -> str:
    return f"oci-layout://{REAL_DIR / case / 'oci-layout'}:1"


def _recorded(case: str, fmt: str) -> str:
    return (REAL_DIR / case / f"inspect.{fmt}.json").read_text()


# The cases whose provenance holds secret build args: buildx's bytes need --show-secrets.
SECRET_CASES = ("c-secrets-max", "f-slsa-v1")


def _show(case: str, fmt: str) -> list[str]:
    return ["--show-secrets"] if fmt == "provenance" and case in SECRET_CASES else []


# -- real BuildKit images ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["provenance", "sbom"])
@pytest.mark.parametrize("case", REAL_CASES)
def test_layout_output_matches_buildx(run: Run, case: str, fmt: str) -> None:
    code, out, err = run("inspect", _layout_ref(case), "--format", fmt, *_show(case, fmt))
    assert (code, err) == (0, "")
    assert out == _recorded(case, fmt).rstrip("\n") + "\n"


@pytest.mark.parametrize("fmt", ["provenance", "sbom"])
@pytest.mark.parametrize("case", REAL_CASES)
def test_registry_output_matches_buildx(run: Run, real_registry: Any, case: str, fmt: str) -> None:
    code, out, err = run("inspect", real_registry.refs[case], "--format", fmt, *_show(case, fmt))
    assert (code, err) == (0, "")
    assert out == _recorded(case, fmt).rstrip("\n") + "\n"


def test_provenance_of_three_platforms_takes_seven_requests(
    run: Run, real_registry: Any, registry_server: RegistryServer
) -> None:
    mark = registry_server.mark()
    code, _, _ = run("inspect", real_registry.refs["b-multi-max"], "--format", "provenance")
    requests = registry_server.requests_since(mark)
    assert code == 0
    # 1 GET of the tag (the body pins the digest), 3 attestation manifests, 3 statements;
    # buildx makes 16 for the same document.
    assert [r.method for r in requests] == ["GET"] * 7
    assert sum("/manifests/" in r.path for r in requests) == 4
    assert sum("/blobs/" in r.path for r in requests) == 3


def test_provenance_format_never_downloads_sboms(
    run: Run, real_registry: Any, registry_server: RegistryServer
) -> None:
    sbom_layers = set()
    tree = json.loads((REAL_DIR / "g-sbom-generator" / "descriptor-tree.json").read_text())
    for node in tree["descriptors"]:
        for layer in node.get("layers") or []:
            if (
                (layer.get("annotations") or {})
                .get("in-toto.io/predicate-type", "")
                .startswith("https://spdx.dev/")
            ):
                sbom_layers.add(layer["digest"])
    assert len(sbom_layers) == 2
    mark = registry_server.mark()
    code, _, _ = run("inspect", real_registry.refs["g-sbom-generator"], "--format", "provenance")
    paths = [r.path for r in registry_server.requests_since(mark)]
    assert code == 0
    assert len(paths) == 5
    assert not [p for p in paths if any(d in p for d in sbom_layers)]


@pytest.mark.parametrize("case", REAL_CASES)
def test_json_document_follows_its_schema(run: Run, case: str) -> None:
    code, out, _ = run("inspect", _layout_ref(case), "--format", "json")
    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert code == 0
    index = json.loads((REAL_DIR / case / "oci-layout" / "index.json").read_text())
    tagged = [
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "1"
    ]
    assert document["digest"] == tagged[0]["digest"]
    for image in document["images"]:
        in_index = [m for m in image["attestationManifests"] if m["origin"] == "index"]
        assert bool(in_index) == (case != "h-no-attest")
        for manifest in in_index:
            for statement in manifest["statements"]:
                assert statement["binding"]["status"] == "bound"
                assert statement["subjects"][0]["digest"]["sha256"] == image["digest"][7:]


def test_json_lists_both_kinds_for_sbom_case(run: Run) -> None:
    _, out, _ = run("inspect", _layout_ref("g-sbom-generator"), "--format", "json")
    document = json.loads(out)
    assert document["platforms"] == ["linux/amd64", "linux/arm64"]
    kinds = [
        [s["kind"] for m in image["attestationManifests"] for s in m["statements"]]
        for image in document["images"]
    ]
    assert kinds == [["sbom", "provenance"], ["sbom", "provenance"]]


def test_text_names_each_platform_and_its_attestation(run: Run) -> None:
    code, out, _ = run("inspect", _layout_ref("b-multi-max"))
    assert code == 0
    for platform in ("linux/amd64", "linux/arm64", "linux/arm/v7"):
        assert f"\n{platform}  sha256:" in out
    assert out.count("https://slsa.dev/provenance/v0.2  [bound, unsigned]") == 3


def test_platform_option_narrows_output(run: Run) -> None:
    code, out, _ = run(
        "inspect",
        _layout_ref("b-multi-max"),
        "--format",
        "provenance",
        "--platform",
        "linux/arm64/v8",
    )
    expected = json.loads(_recorded("b-multi-max", "provenance"))["linux/arm64"]
    assert code == 0
    assert json.loads(out) == expected


def test_digest_pinned_reference_is_index_bound(run: Run, real_registry: Any) -> None:
    ref = real_registry.refs["a-single-min"].rsplit(":", 1)[0]
    digest = real_registry.root_digest("a-single-min")
    code, out, _ = run("inspect", f"{ref}@{digest}")
    assert code == 0
    assert "[bound, index-bound]" in out


def test_no_attestations_is_reported_as_none(run: Run, real_registry: Any) -> None:
    code, out, err = run("inspect", real_registry.refs["h-no-attest"])
    assert (code, err) == (0, "")
    assert "application/vnd.docker.distribution.manifest.v2+json" in out
    assert "linux/amd64" in out
    assert "no attestations" in out


# -- user errors: one line, no traceback ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["inspect", "Bad/Name:1"], 2, "repository name must be lowercase"),
        (["inspect", "oci-layout:///nonexistent/dir"], 2, "is not an OCI image layout"),
        (["inspect", "x", "--platform", "linux"], 2, "invalid platform"),
        (["inspect", "x", "--max-attestation-size", "lots"], 2, "invalid size"),
    ],
)
def test_usage_errors_are_one_line(run: Run, args: list[str], code: int, message: str) -> None:
    got, out, err = run(*args)
    assert got == code
    assert out == ""
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_tag_is_a_fetch_error(run: Run, real_registry: Any) -> None:
    code, out, err = run("inspect", f"{real_registry.host}/lab/a-single-min:nope")
    assert (code, out) == (3, "")
    assert err.startswith("provcheck: error: ") and "not found" in err
    assert err.count("\n") == 1


def test_unreachable_registry_is_a_fetch_error(run: Run) -> None:
    code, _, err = run("inspect", "127.0.0.1:9/x/y:1", "--timeout", "2")
    assert code == 3
    assert err.startswith("provcheck: error: ") and err.count("\n") == 1


# -- synthetic edge cases through the real registry -------------------------------------------


def _two_platforms(name: str, **attest: Any) -> tuple[ImageBuilder, list[Any]]:
    builder = ImageBuilder(name)
    entries = [builder.add_platform(p) for p in ("linux/amd64", "linux/arm64")]
    for entry in entries:
        builder.attest(
            entry,
            [provenance_statement(entry.digest, platform=entry.platform, image=name)],
            **attest,
        )
    return builder, entries


def _push(server: RegistryServer, image: Any, repository: str) -> str:
    image.push(server, repository)
    return f"{server.host}/{repository}:1"


def test_oci_artifact_attestations_are_read(
    run: Run, registry_server: RegistryServer, unique_repository: str
) -> None:
    builder, _ = _two_platforms("artifact", form="oci-artifact")
    ref = _push(registry_server, builder.build(), unique_repository)
    code, out, err = run("inspect", ref, "--format", "json")
    document = json.loads(out)
    assert (code, err) == (0, "")
    forms = [m["form"] for i in document["images"] for m in i["attestationManifests"]]
    assert forms == ["oci-artifact", "oci-artifact"]
    code, out, _ = run("inspect", ref, "--format", "provenance")
    assert set(json.loads(out)) == {"linux/amd64", "linux/arm64"}


def test_statement_v1_slsa_v1_is_read(run: Run, tmp_path: Path) -> None:
    builder = ImageBuilder("v1")
    entry = builder.add_platform("linux/amd64")
    statement = provenance_statement(entry.digest, statement_version="v1", slsa="v1")
    builder.attest(entry, [statement])
    layout = builder.build().write_layout(tmp_path / "layout")
    code, out, _ = run("inspect", f"oci-layout://{layout}:1", "--format", "provenance")
    assert code == 0
    assert json.loads(out) == {"SLSA": statement["predicate"]}


def test_tampered_statement_is_rejected(
    run: Run, registry_server: RegistryServer, unique_repository: str
) -> None:
    builder, _ = _two_platforms("tampered")
    image = builder.build()
    manifest = image.document(image.attestations[0].digest)
    statement_digest = manifest["layers"][0]["digest"]
    forged = image.blobs[statement_digest].replace(b"dockerfile.v0", b"dockerfile.vX")
    ref = _push(registry_server, image.tampered(statement_digest, forged), unique_repository)
    code, out, err = run("inspect", ref, "--format", "provenance")
    assert code == 3
    # The forged statement is never shown; the other platform still is.
    assert set(json.loads(out)) == {"linux/arm64"}
    assert "integrity" in err and statement_digest[:19] in err and "hashes to" in err


def test_wrong_size_is_rejected(run: Run, tmp_path: Path) -> None:
    builder, _ = _two_platforms("size")
    image = builder.build()
    statement_digest = image.document(image.attestations[1].digest)["layers"][0]["digest"]
    layout = image.with_descriptor_size(statement_digest, 10).write_layout(tmp_path / "l")
    code, out, err = run("inspect", f"oci-layout://{layout}:1", "--format", "provenance")
    assert code == 3
    assert set(json.loads(out)) == {"linux/amd64"}
    assert "descriptor says 10" in err


def test_statement_bound_to_another_image_is_rejected(
    run: Run, registry_server: RegistryServer, unique_repository: str
) -> None:
    builder = ImageBuilder("misbound")
    amd64, arm64 = (builder.add_platform(p) for p in ("linux/amd64", "linux/arm64"))
    # A replay: arm64's attestation carries a statement whose subject is the amd64 manifest.
    builder.attest(amd64, [provenance_statement(amd64.digest)])
    builder.attest(arm64, [set_subject_digest(provenance_statement(arm64.digest), amd64.digest)])
    ref = _push(registry_server, builder.build(), unique_repository)
    code, out, err = run("inspect", ref, "--format", "provenance")
    assert code == 3
    assert set(json.loads(out)) == {"linux/amd64"}
    assert "binding" in err and f"do not include {arm64.digest[:19]}" in err


def test_purl_platform_contradicting_the_manifest_is_rejected(run: Run, tmp_path: Path) -> None:
    builder = ImageBuilder("purl")
    entry = builder.add_platform("linux/amd64")
    builder.attest(entry, [provenance_statement(entry.digest, platform="linux/arm64")])
    layout = builder.build().write_layout(tmp_path / "l")
    code, out, err = run("inspect", f"oci-layout://{layout}:1", "--format", "provenance")
    assert (code, out) == (3, "{}\n")
    assert "names platform linux/arm64, but the manifest is linux/amd64" in err


def test_predicate_type_annotation_must_match_statement(run: Run, tmp_path: Path) -> None:
    builder = ImageBuilder("hint")
    entry = builder.add_platform("linux/amd64")
    # The layer claims to be an SBOM but holds provenance: a reader that trusts the hint is fooled.
    builder.attest(
        entry,
        [provenance_statement(entry.digest)],
        predicate_type_annotations=["https://spdx.dev/Document"],
    )
    layout = builder.build().write_layout(tmp_path / "l")
    code, out, err = run("inspect", f"oci-layout://{layout}:1", "--format", "sbom")
    assert (code, out) == (3, "{}\n")
    assert "layer annotation says predicate type 'https://spdx.dev/Document'" in err


def test_artifact_subject_must_be_the_platform_manifest(run: Run, tmp_path: Path) -> None:
    builder = ImageBuilder("subject")
    amd64, arm64 = (builder.add_platform(p) for p in ("linux/amd64", "linux/arm64"))
    builder.attest(amd64, [provenance_statement(amd64.digest)], form="oci-artifact")
    # arm64's index entry points at an attestation manifest whose subject is amd64.
    builder.attest(
        amd64,
        [provenance_statement(amd64.digest)],
        form="oci-artifact",
        reference_digest=arm64.digest,
    )
    layout = builder.build().write_layout(tmp_path / "l")
    code, out, err = run("inspect", f"oci-layout://{layout}:1", "--format", "provenance")
    assert code == 3
    assert set(json.loads(out)) == {"linux/amd64"}
    assert "but the index binds it to" in err


def test_missing_attestation_manifest_fails_only_its_platform(
    run: Run, registry_server: RegistryServer, unique_repository: str
) -> None:
    builder, _ = _two_platforms("missing")
    image = builder.build()
    ref = _push(
        registry_server, image.without_blob(image.attestations[0].digest), unique_repository
    )
    code, out, err = run("inspect", ref, "--format", "provenance")
    assert code == 3
    assert set(json.loads(out)) == {"linux/arm64"}
    assert "missing" in err and "attestation for linux/amd64" in err


def test_oversized_attestation_is_refused_before_download(
    run: Run, registry_server: RegistryServer, unique_repository: str
) -> None:
    builder = ImageBuilder("huge")
    entry = builder.add_platform("linux/amd64")
    packages = [{"name": f"pkg{i}", "version": "1.0"} for i in range(2000)]
    builder.attest(entry, [spdx_statement(entry.digest, packages)])
    ref = _push(registry_server, builder.build(), unique_repository)
    mark = registry_server.mark()
    code, out, err = run("inspect", ref, "--format", "sbom", "--max-attestation-size", "64KiB")
    assert (code, out) == (3, "{}\n")
    assert "too-large" in err and "over the 65536-byte limit" in err
    assert not [r for r in registry_server.requests_since(mark) if "/blobs/" in r.path]


def test_docker_manifest_list_with_annotations_is_flagged(
    run: Run, registry_server: RegistryServer, unique_repository: str
) -> None:
    builder, _ = _two_platforms("list")
    ref = _push(
        registry_server,
        builder.build("application/vnd.docker.distribution.manifest.list.v2+json"),
        unique_repository,
    )
    code, out, err = run("inspect", ref, "--format", "provenance")
    assert code == 0
    assert set(json.loads(out)) == {"linux/amd64", "linux/arm64"}
    assert "suspicious: a Docker manifest list cannot carry annotations" in err


def test_reference_type_other_than_attestation_is_ignored(run: Run, tmp_path: Path) -> None:
    builder = ImageBuilder("reftype")
    entry = builder.add_platform("linux/amd64")
    builder.attest(entry, [provenance_statement(entry.digest)], reference_type="something-else")
    layout = builder.build().write_layout(tmp_path / "l")
    code, out, err = run("inspect", f"oci-layout://{layout}:1", "--format", "provenance")
    assert (code, out, err) == (0, "{}\n", "")


def test_orphan_attestation_is_reported(run: Run, tmp_path: Path) -> None:
    builder = ImageBuilder("orphan")
    entry = builder.add_platform("linux/amd64")
    builder.attest(
        entry, [provenance_statement(entry.digest)], reference_digest="sha256:" + "0" * 64
    )
    layout = builder.build().write_layout(tmp_path / "l")
    code, _, err = run("inspect", f"oci-layout://{layout}:1", "--format", "provenance")
    assert code == 0
    assert "orphan" in err and "not in the index" in err


def test_secrets_never_reach_inspect_warnings(run: Run, tmp_path: Path) -> None:
    """Messages about rejected statements name digests and types, never predicate values."""
    builder = ImageBuilder("secret")
    entry = builder.add_platform("linux/amd64")
    secret = "ghp_FAKEsecretvalue0123456789abcdefghijkl"
    statement = provenance_statement(entry.digest, build_args={"GH_TOKEN": secret})
    builder.attest(entry, [set_subject_digest(statement, "sha256:" + "1" * 64)])
    layout = builder.build().write_layout(tmp_path / "l")
    code, out, err = run("inspect", f"oci-layout://{layout}:1")
    assert code == 3
    assert secret[4:12] not in out + err


def test_single_manifest_is_fetched_once(
    run: Run, real_registry: Any, registry_server: RegistryServer
) -> None:
    """A bare manifest has no platform in a descriptor: its config says it (2 requests)."""
    mark = registry_server.mark()
    code, out, _ = run("inspect", real_registry.refs["h-no-attest"], "--format", "provenance")
    requests = registry_server.requests_since(mark)
    assert (code, out) == (0, "{}\n")
    assert [(r.method, r.path.split("/")[-2]) for r in requests] == [
        ("GET", "manifests"),
        ("GET", "blobs"),
    ]
