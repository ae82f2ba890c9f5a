"""tests/oci_builder.py builds well-formed, BuildKit-shaped images."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.oci_builder import (
    ATTESTATION_ARTIFACT,
    EMPTY_DIGEST,
    IN_TOTO,
    OCI_CONFIG,
    PREDICATE_TYPE_ANNOTATION,
    REFERENCE_DIGEST,
    REFERENCE_TYPE,
    SLSA_V02,
    SLSA_V1,
    SPDX_DOCUMENT,
    BuiltImage,
    ImageBuilder,
    image_purl,
    material,
    provenance_statement,
    set_subject_digest,
    spdx_statement,
)
from tests.oci_push import (
    ACCEPT_ALL,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
)
from tests.paths import real_case
from tests.registry import RegistryServer


def walk(desc: dict[str, Any], read: Any) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Every (descriptor, bytes) reachable from ``desc``; ``subject`` is not followed."""
    data: bytes = read(desc["digest"])
    yield desc, data
    if desc["mediaType"] in INDEX_TYPES:
        for child in json.loads(data)["manifests"]:
            yield from walk(child, read)
    elif "manifest" in desc["mediaType"]:
        document = json.loads(data)
        for child in [document["config"], *document["layers"]]:
            yield child, read(child["digest"])


def assert_well_formed(image: BuiltImage) -> int:
    count = 0
    for desc, data in walk(image.root, image.blobs.__getitem__):
        assert desc["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert desc["size"] == len(data)
        if desc["mediaType"] in INDEX_TYPES or "manifest" in desc["mediaType"]:
            assert json.loads(data)["mediaType"] == desc["mediaType"]
        count += 1
    return count


def two_platform_image(form: Any = "legacy", index_media_type: str = OCI_INDEX) -> BuiltImage:
    builder = ImageBuilder("twoplat")
    for platform in ("linux/amd64", "linux/arm/v7"):
        entry = builder.add_platform(platform)
        statements = [
            spdx_statement(
                entry.digest, [{"name": "busybox", "version": "1.36"}], platform=platform
            ),
            provenance_statement(entry.digest, platform=platform, build_args={"VERSION": "1"}),
        ]
        builder.attest(entry, statements, form=form)
    return builder.build(index_media_type)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every dict key (list items collapse to ``[]``)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            paths.add(prefix + key)
            paths |= key_paths(child, f"{prefix}{key}.")
    elif isinstance(value, list):
        for child in value:
            paths |= key_paths(child, f"{prefix}[].")
    return paths


def real_statement(case: str, predicate_type: str) -> dict[str, Any]:
    for path in sorted((real_case(case) / "oci-layout" / "blobs" / "sha256").iterdir()):
        data = path.read_bytes()
        if data.startswith(b'{"_type"'):
            statement: dict[str, Any] = json.loads(data)
            if statement["predicateType"] == predicate_type:
                return statement
    raise LookupError(case)


@pytest.mark.parametrize("form", ["legacy", "oci-artifact"])
@pytest.mark.parametrize("index_media_type", [OCI_INDEX, DOCKER_LIST])
def test_index_is_well_formed(form: str, index_media_type: str) -> None:
    image = two_platform_image(form, index_media_type)
    assert image.media_type == index_media_type
    # index + 2 x (manifest, config, layer) + 2 x (att manifest, config, 2 statements)
    assert assert_well_formed(image) == 1 + 2 * 3 + 2 * 4
    index = image.document(image.root_digest)
    assert [d["platform"] for d in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
        {"architecture": "unknown", "os": "unknown"},
        {"architecture": "unknown", "os": "unknown"},
    ]


def test_legacy_attestation_manifest_is_buildkit_shaped() -> None:
    image = two_platform_image("legacy")
    index = image.document(image.root_digest)
    platform, attestation = index["manifests"][0], index["manifests"][2]
    assert attestation["annotations"] == {
        REFERENCE_DIGEST: platform["digest"],
        REFERENCE_TYPE: "attestation-manifest",
    }
    manifest = image.document(attestation["digest"])
    assert list(manifest) == ["schemaVersion", "mediaType", "config", "layers"]
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    layer_digests = [layer["digest"] for layer in manifest["layers"]]
    assert image.document(manifest["config"]["digest"]) == {
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": layer_digests},
    }
    assert [(layer["mediaType"], layer["annotations"]) for layer in manifest["layers"]] == [
        (IN_TOTO, {PREDICATE_TYPE_ANNOTATION: SPDX_DOCUMENT}),
        (IN_TOTO, {PREDICATE_TYPE_ANNOTATION: SLSA_V02}),
    ]
    statement = image.document(layer_digests[1])
    assert statement["subject"][0]["digest"] == {"sha256": platform["digest"][7:]}


def test_oci_artifact_attestation_manifest_is_buildkit_shaped() -> None:
    image = two_platform_image("oci-artifact")
    index = image.document(image.root_digest)
    platform, attestation = index["manifests"][1], index["manifests"][3]
    manifest = image.document(attestation["digest"])
    assert list(manifest) == [
        "schemaVersion",
        "mediaType",
        "artifactType",
        "config",
        "layers",
        "subject",
    ]
    assert manifest["artifactType"] == ATTESTATION_ARTIFACT
    assert manifest["config"] == {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": EMPTY_DIGEST,
        "size": 2,
        "data": "e30=",
    }
    assert image.blobs[EMPTY_DIGEST] == b"{}"
    assert manifest["subject"] == {k: platform[k] for k in ("mediaType", "digest", "size")}
    assert "artifactType" not in attestation  # BuildKit does not put it on the index descriptor


def test_real_oci_artifact_manifest_has_the_same_shape() -> None:
    index = json.loads((real_case("n1-default") / "index.raw.json").read_bytes())
    blobs = real_case("n1-default") / "oci-layout" / "blobs" / "sha256"
    real = json.loads((blobs / index["manifests"][2]["digest"][7:]).read_bytes())
    image = two_platform_image("oci-artifact")
    ours = image.document(image.document(image.root_digest)["manifests"][2]["digest"])
    assert key_paths(ours) == key_paths(real)
    assert list(ours) == list(real)


def test_attest_options() -> None:
    builder = ImageBuilder()
    entry = builder.add_platform()
    other = "sha256:" + "ab" * 32
    statement = provenance_statement(entry.digest)
    att = builder.attest(
        entry,
        [statement, statement],
        predicate_type_annotations=[None, "https://example.com/lie"],
        reference_digest=other,
        reference_type=None,
    )
    assert att.descriptor["annotations"] == {REFERENCE_DIGEST: other}
    layers = json.loads(att.manifest)["layers"]
    assert "annotations" not in layers[0]
    assert layers[1]["annotations"] == {PREDICATE_TYPE_ANNOTATION: "https://example.com/lie"}
    with pytest.raises(ValueError):
        builder.attest(entry, [statement], predicate_type_annotations=[])


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_single_manifest_images(media_type: str) -> None:
    builder = ImageBuilder("single")
    entry = builder.add_platform(
        "linux/arm64",
        {"history": [{"created_by": "ARG VERSION=1.0.0", "empty_layer": True}]},
        media_type=media_type,
    )
    image = builder.build_single()
    assert image.root_digest == entry.digest
    assert assert_well_formed(image) == 3
    manifest = image.document(image.root_digest)
    config = image.document(manifest["config"]["digest"])
    assert config["history"] == [{"created_by": "ARG VERSION=1.0.0", "empty_layer": True}]
    assert config["architecture"] == "arm64"
    if media_type == DOCKER_MANIFEST:
        assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
        assert manifest["layers"][0]["mediaType"].startswith("application/vnd.docker.image.rootfs")


def test_distinct_names_build_distinct_images() -> None:
    """(That a build is the same bytes in another process, under another hash seed, at another
    time is shown by tests/unit/test_fixture_generators.py: it rebuilds committed fixtures.)"""
    assert ImageBuilder("a").add_platform().digest != ImageBuilder("b").add_platform().digest


def test_write_layout_is_readable(tmp_path: Path) -> None:
    image = two_platform_image("oci-artifact")
    layout = image.write_layout(tmp_path / "layout", tag="v1")
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"] == [
        {**image.root, "annotations": {"org.opencontainers.image.ref.name": "v1"}}
    ]

    def read(digest: str) -> bytes:
        return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()

    seen = list(walk(index["manifests"][0], read))
    assert {d["digest"] for d, _ in seen} == set(image.blobs)
    for desc, data in seen:
        assert desc["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_statement_helpers_match_real_shapes() -> None:
    digest = "sha256:" + "0" * 64
    real_min = real_statement("a-single-min", SLSA_V02)
    ours_min = provenance_statement(digest, mode="min", build_args={"VERSION": "1.0.0"})
    assert key_paths(ours_min) == key_paths(real_min)
    assert ours_min["predicate"]["metadata"]["completeness"]["parameters"] is False

    real_max = real_statement("d-secret-mount", SLSA_V02)
    ours_max = provenance_statement(
        digest,
        build_args={"VERSION": "1.4.2"},
        secrets=[{"id": "npmrc", "optional": True}],
        materials=[material("pkg:docker/busybox@1?platform=linux%2Famd64", digest)],
    )
    assert key_paths(ours_max["predicate"]["invocation"]) == key_paths(
        real_max["predicate"]["invocation"]
    )
    assert list(ours_max["predicate"]) == list(real_max["predicate"])
    assert ours_max["predicate"]["invocation"]["parameters"]["args"] == {
        "build-arg:VERSION": "1.4.2"
    }

    real_v1 = real_statement("f-slsa-v1", SLSA_V1)
    ours_v1 = provenance_statement(
        digest,
        slsa="v1",
        build_args={"GH_TOKEN": "ghp_FAKE", "VERSION": "3.0.0"},
        secrets=[{"id": "npmrc", "optional": True}],
        materials=[material("pkg:docker/busybox@1", digest)],
    )
    assert ours_v1["_type"] == "https://in-toto.io/Statement/v0.1"
    assert key_paths(ours_v1["predicate"]["buildDefinition"]["externalParameters"]) == key_paths(
        real_v1["predicate"]["buildDefinition"]["externalParameters"]
    )
    assert list(ours_v1["predicate"]["runDetails"]["metadata"]) == list(
        real_v1["predicate"]["runDetails"]["metadata"]
    )

    real_n1 = real_statement("n1-default", SLSA_V1)
    ours_n1 = provenance_statement(digest, statement_version="v1", slsa="v1", mode="min")
    assert ours_n1["_type"] == real_n1["_type"] == "https://in-toto.io/Statement/v1"
    assert list(ours_n1["predicate"]["runDetails"]["metadata"]) == list(
        real_n1["predicate"]["runDetails"]["metadata"]
    )
    assert "buildConfig" not in ours_n1["predicate"]["buildDefinition"]["internalParameters"]


def test_syntax_source_switches_frontend() -> None:
    statement = provenance_statement("0" * 64, source="localhost:5000/evil/frontend:1")
    parameters = statement["predicate"]["invocation"]["parameters"]
    assert parameters["frontend"] == "gateway.v0"
    assert parameters["args"]["source"] == parameters["args"]["cmdline"]


def test_image_purl_matches_buildkit() -> None:
    real = real_statement("b-multi-max", SLSA_V02)["subject"][0]["name"]
    platform = (
        "linux/arm/v7" if "arm%2Fv7" in real else real.split("platform=")[1].replace("%2F", "/")
    )
    assert image_purl("localhost:5000/lab/b-multi-max:1", platform) == real


def test_set_subject_digest_copies() -> None:
    statement = provenance_statement("1" * 64)
    moved = set_subject_digest(statement, "sha256:" + "2" * 64)
    assert moved["subject"][0]["digest"] == {"sha256": "2" * 64}
    assert statement["subject"][0]["digest"] == {"sha256": "1" * 64}


def test_tamper_hooks() -> None:
    image = two_platform_image()
    layer = image.document(image.platforms[0].digest)["layers"][0]["digest"]

    tampered = image.tampered(layer, b"evil")
    assert tampered.blobs[layer] == b"evil"
    assert tampered.root == image.root
    with pytest.raises(AssertionError):
        assert_well_formed(tampered)

    missing = image.without_blob(layer)
    assert layer not in missing.blobs
    with pytest.raises(KeyError):
        assert_well_formed(missing)

    platform = image.platforms[1].digest
    resized = image.with_descriptor_size(platform, 1)
    assert resized.root_digest != image.root_digest
    assert assert_well_formed(resized.with_descriptor_size(platform, len(image.blobs[platform])))
    index = resized.document(resized.root_digest)
    assert index["manifests"][1]["size"] == 1
    assert resized.blobs[platform] == image.blobs[platform]

    # a layer size change renames the platform manifest; the attestation descriptor follows
    relayered = image.with_descriptor_size(layer, 1)
    index = relayered.document(relayered.root_digest)
    assert index["manifests"][0]["digest"] != image.platforms[0].digest
    assert index["manifests"][2]["annotations"][REFERENCE_DIGEST] == index["manifests"][0]["digest"]
    with pytest.raises(KeyError):
        image.with_descriptor_size("sha256:" + "f" * 64, 1)


def _get(server: RegistryServer, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Accept": ACCEPT_ALL})


@pytest.mark.parametrize(
    ("form", "index_media_type"),
    [("legacy", OCI_INDEX), ("oci-artifact", OCI_INDEX), ("legacy", DOCKER_LIST)],
)
def test_pushed_image_comes_back_byte_identical(
    registry_server: RegistryServer, unique_repository: str, form: str, index_media_type: str
) -> None:
    image = two_platform_image(form, index_media_type)
    assert image.push(registry_server, unique_repository, "1") == image.root_digest
    tag = _get(registry_server, f"/v2/{unique_repository}/manifests/1")
    assert tag.status_code == 200
    assert tag.content == image.root_bytes
    assert tag.headers["Content-Type"] == index_media_type
    for desc, data in walk(image.root, image.blobs.__getitem__):
        is_manifest = desc["mediaType"] in INDEX_TYPES or "manifest" in desc["mediaType"]
        kind = "manifests" if is_manifest else "blobs"
        response = _get(registry_server, f"/v2/{unique_repository}/{kind}/{desc['digest']}")
        assert response.status_code == 200, desc
        assert response.content == data


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_pushed_single_manifest(
    registry_server: RegistryServer, unique_repository: str, media_type: str
) -> None:
    builder = ImageBuilder(unique_repository)
    builder.add_platform(media_type=media_type)
    image = builder.build_single()
    image.push(registry_server.url, unique_repository, "latest")
    response = _get(registry_server, f"/v2/{unique_repository}/manifests/latest")
    assert response.content == image.root_bytes
    assert response.headers["Docker-Content-Digest"] == image.root_digest


def test_pushed_negative_images(registry_server: RegistryServer, unique_repository: str) -> None:
    builder = ImageBuilder(unique_repository)  # unique bytes: tampering is server-wide
    entry = builder.add_platform()
    builder.attest(entry, [provenance_statement(entry.digest)])
    image = builder.build()
    manifest = image.document(entry.digest)
    layer, config = manifest["layers"][0]["digest"], manifest["config"]["digest"]

    broken = image.tampered(layer, b"evil").without_blob(config)
    with pytest.raises(ValueError):
        broken.push(registry_server.url, unique_repository)
    broken.push(registry_server, unique_repository, "1")
    assert _get(registry_server, f"/v2/{unique_repository}/blobs/{layer}").content == b"evil"
    assert _get(registry_server, f"/v2/{unique_repository}/blobs/{config}").status_code == 404
    assert _get(registry_server, f"/v2/{unique_repository}/manifests/1").content == (
        image.root_bytes
    )
