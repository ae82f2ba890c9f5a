"""``--platform`` of inspect and sbom: nothing of the platforms left out is fetched (the index
names them), and trust is decided over the whole index before the output is narrowed, so a
statement bound to a platform left out is not a problem."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provcheck.cli import main
from tests.oci_builder import ImageBuilder, compact_bytes, dsse_envelope, spdx_statement
from tests.paths import REAL_DIR
from tests.registry import RegistryServer

REF_DIGEST = "vnd.docker.reference.digest"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _blob(layout: Path, digest: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((layout / "blobs" / "sha256" / digest[7:]).read_bytes())
    return doc


def _trees(case: str) -> dict[str, set[str]]:
    """Per platform of the index of ``case``: the digests of its manifest, its config, its
    attestation manifests and their config and layers (all that inspect or sbom could read)."""
    layout = REAL_DIR / case / "oci-layout"
    (root,) = json.loads((layout / "index.json").read_text())["manifests"]
    entries = _blob(layout, root["digest"])["manifests"]
    platforms = {
        e["digest"]: "/".join(
            e["platform"][k] for k in ("os", "architecture", "variant") if k in e["platform"]
        )
        for e in entries
        if REF_DIGEST not in (e.get("annotations") or {})
    }
    trees: dict[str, set[str]] = {key: set() for key in platforms.values()}
    for e in entries:
        owner = platforms.get((e.get("annotations") or {}).get(REF_DIGEST, e["digest"]))
        assert owner is not None
        manifest = _blob(layout, e["digest"])
        trees[owner] |= {e["digest"], manifest["config"]["digest"]}
        if e["digest"] not in platforms:  # an attestation manifest: its layers are read
            trees[owner] |= {layer["digest"] for layer in manifest["layers"]}
    return trees


def _others(case: str, kept: str) -> set[str]:
    trees = _trees(case)
    return set().union(*(t for key, t in trees.items() if key != kept)) - trees[kept]


@pytest.mark.parametrize(
    ("case", "argv"),
    [
        ("g-sbom-generator", ["sbom", "--format", "json"]),
        ("g-sbom-generator", ["inspect", "--format", "sbom"]),
        ("b-multi-max", ["inspect", "--format", "json"]),
        ("b-multi-max", ["inspect", "--format", "provenance"]),
    ],
)
def test_one_platform_is_read_and_nothing_of_the_others(
    case: str,
    argv: list[str],
    real_registry: Any,
    registry_server: RegistryServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    others = _others(case, "linux/amd64")
    assert len(others) >= 5  # a manifest, its config, an attestation manifest and its layers
    mark = registry_server.mark()
    code, out, _ = _run(capsys, *argv, real_registry.refs[case], "--platform", "linux/amd64")
    paths = [r.path for r in registry_server.requests_since(mark)]
    assert code == 0, out
    assert [p for p in paths if any(d in p for d in others)] == []
    own = _trees(case)["linux/amd64"]
    assert any(d in p for p in paths for d in own)  # the kept platform was read


def test_a_platform_that_matches_nothing_is_refused_before_any_child_is_read(
    real_registry: Any, registry_server: RegistryServer, capsys: pytest.CaptureFixture[str]
) -> None:
    mark = registry_server.mark()
    code, _, err = _run(
        capsys, "sbom", real_registry.refs["b-multi-max"], "--platform", "linux/s390x"
    )
    requests = registry_server.requests_since(mark)
    assert code == 2
    assert "it has: linux/amd64, linux/arm64, linux/arm/v7" in err
    assert len(requests) == 1 and "/manifests/" in requests[0].path  # the tag, nothing below


def _write(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _two_platforms_with_an_att_for_arm64(tmp_path: Path) -> str:
    """linux/amd64 and linux/arm64, each with an in-index SBOM, and a cosign ``.att`` of the
    index whose SBOM statement names the linux/arm64 manifest only."""
    builder = ImageBuilder("selection")
    amd64 = builder.add_platform("linux/amd64")
    arm64 = builder.add_platform("linux/arm64")
    builder.attest(amd64, [spdx_statement(amd64.digest)])
    builder.attest(arm64, [spdx_statement(arm64.digest, platform="linux/arm64")])
    image = builder.build()
    layout = image.write_layout(tmp_path / "layout")
    statement = spdx_statement(arm64.digest, platform="linux/arm64")
    envelope = dsse_envelope(statement, [Ed25519PrivateKey.generate().sign])
    layer = {
        "mediaType": "application/vnd.dsse.envelope.v1+json",
        **_write(layout, json.dumps(envelope).encode()),
        "annotations": {
            "dev.cosignproject.cosign/signature": "",
            "predicateType": statement["predicateType"],
        },
    }
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", **_write(layout, b"{}")}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    }
    index = json.loads((layout / "index.json").read_text())
    tag = f"sha256-{image.root_digest.split(':')[1]}.att"
    index["manifests"].append(
        {
            "mediaType": manifest["mediaType"],
            **_write(layout, compact_bytes(manifest)),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    )
    (layout / "index.json").write_text(json.dumps(index))
    return f"oci-layout://{layout}:1"


@pytest.mark.parametrize("command", ["sbom", "inspect"])
def test_a_store_statement_of_a_platform_left_out_is_not_a_binding_problem(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _two_platforms_with_an_att_for_arm64(tmp_path)
    code, out, err = _run(capsys, command, ref, "--format", "json", "--platform", "linux/amd64")
    assert (code, err) == (0, "")
    if command == "inspect":
        doc = json.loads(out)
        assert [i["platform"] for i in doc["images"]] == ["linux/amd64"]
        assert doc["platforms"] == ["linux/amd64"]
        assert doc["signatures"] == []  # the .att binds to linux/arm64 only: narrowed away
    code, out, err = _run(capsys, "sbom", ref, "--format", "json", "--platform", "linux/arm64")
    assert (code, err) == (0, "")
    assert len(json.loads(out)["sboms"]) == 2  # the in-index SBOM and the one of the .att
