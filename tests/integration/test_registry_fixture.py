"""The test registry and the loaded real cases behave like the recorded registry did."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.oci_push import ACCEPT_ALL, INDEX_TYPES, OCI_INDEX, pull_layout, push_blob, push_layout
from tests.paths import REAL_CASES, REAL_DIR, real_case
from tests.registry import AccessLogEntry, RealRegistry, RegistryServer, parse_access_log_line


def _layout_index(case: str) -> dict[str, Any]:
    index: dict[str, Any] = json.loads((real_case(case) / "oci-layout" / "index.json").read_text())
    return index


def _blob_paths(case: str) -> list[Path]:
    return sorted((real_case(case) / "oci-layout" / "blobs" / "sha256").iterdir())


@pytest.mark.parametrize("case", REAL_CASES)
def test_tag_returns_recorded_root_bytes(real_registry: RealRegistry, case: str) -> None:
    root = _layout_index(case)["manifests"][0]
    repository = real_registry.repositories[case]
    response = httpx.get(
        f"{real_registry.url}/v2/{repository}/manifests/1", headers={"Accept": ACCEPT_ALL}
    )
    assert response.status_code == 200
    assert "sha256:" + hashlib.sha256(response.content).hexdigest() == root["digest"]
    assert response.content == (real_case(case) / "index.raw.json").read_bytes()
    assert response.headers["Docker-Content-Digest"] == root["digest"]
    assert response.headers["Content-Type"] == root["mediaType"]
    assert real_registry.root_digest(case) == root["digest"]
    assert real_registry.ref(case) == f"{real_registry.host}/{repository}:1"


@pytest.mark.parametrize("case", REAL_CASES)
def test_every_blob_comes_back_byte_identical(real_registry: RealRegistry, case: str) -> None:
    repository = real_registry.repositories[case]
    manifests = {
        d["digest"]: d["mediaType"]
        for d in json.loads((real_case(case) / "descriptor-tree.json").read_text())["descriptors"]
    }
    with httpx.Client(base_url=real_registry.url) as client:
        for path in _blob_paths(case):
            digest = f"sha256:{path.name}"
            if digest in manifests or digest in {
                d["digest"] for d in _layout_index(case)["manifests"]
            }:
                url = f"/v2/{repository}/manifests/{digest}"
            else:
                url = f"/v2/{repository}/blobs/{digest}"
            response = client.get(url, headers={"Accept": ACCEPT_ALL})
            assert response.status_code == 200, url
            assert response.content == path.read_bytes(), url


def test_i_cosign_has_its_signature_tags(real_registry: RealRegistry) -> None:
    tags = httpx.get(f"{real_registry.url}/v2/lab/i-cosign/tags/list").json()["tags"]
    recorded = json.loads((real_case("i-cosign") / "tags.json").read_text())["tags"]
    assert sorted(tags) == sorted(recorded)
    assert len(real_registry.digests["i-cosign"]) == 3


def test_n1_default_is_under_lab2(real_registry: RealRegistry) -> None:
    assert real_registry.refs["n1-default"] == f"{real_registry.host}/lab2/n1-default:1"


def test_index_needs_its_media_type_in_accept(real_registry: RealRegistry) -> None:
    """distribution 2.8 answers 404 MANIFEST_UNKNOWN when Accept lacks the stored type."""
    url = f"{real_registry.url}/v2/lab/a-single-min/manifests/1"
    assert httpx.get(url).status_code == 404
    docker_only = "application/vnd.docker.distribution.manifest.v2+json"
    assert httpx.get(url, headers={"Accept": docker_only}).status_code == 404
    response = httpx.get(url, headers={"Accept": OCI_INDEX})
    assert response.status_code == 200
    assert response.headers["Content-Type"] in INDEX_TYPES


def test_no_referrers_api(real_registry: RealRegistry) -> None:
    """distribution 2.8 has no referrers API: a plain-text 404 from the router."""
    subject = "sha256:b06f4c70c277891e5a1d43bbc96fc8ae50b6d37337e1a7d175523356f2893e1d"
    response = httpx.get(f"{real_registry.url}/v2/lab2/n1-default/referrers/{subject}")
    assert response.status_code == 404


def test_access_log_counts_requests(real_registry: RealRegistry) -> None:
    server = real_registry.server
    repository = real_registry.repositories["a-single-min"]
    root = real_registry.root_digest("a-single-min")
    mark = server.mark()
    with httpx.Client(base_url=server.url, headers={"Accept": ACCEPT_ALL}) as client:
        client.head(f"/v2/{repository}/manifests/1")
        client.get(f"/v2/{repository}/manifests/{root}")
        client.get(f"/v2/{repository}/manifests/nope")
    assert server.requests_since(mark) == [
        AccessLogEntry("HEAD", f"/v2/{repository}/manifests/1", 200),
        AccessLogEntry("GET", f"/v2/{repository}/manifests/{root}", 200),
        ("GET", f"/v2/{repository}/manifests/nope", 404),
    ]
    assert server.requests_since(server.mark()) == []


def test_access_log_sees_uploads(registry_server: RegistryServer, unique_repository: str) -> None:
    mark = registry_server.mark()
    digest = push_blob(registry_server.url, unique_repository, b"hello")
    assert [(e.method, e.status) for e in registry_server.requests_since(mark)] == [
        ("HEAD", 404),
        ("POST", 202),
        ("PUT", 201),
    ]
    mark = registry_server.mark()
    assert push_blob(registry_server.url, unique_repository, b"hello") == digest
    assert registry_server.requests_since(mark) == [
        ("HEAD", f"/v2/{unique_repository}/blobs/{digest}", 200)
    ]


def test_parse_access_log_line() -> None:
    line = (
        '127.0.0.1 - - [26/Nov/2026:15:15:35 +0000] "HEAD /v2/x/y/manifests/1 HTTP/1.1" 404 91 '
        '"" "curl/7.88.1"'
    )
    assert parse_access_log_line(line) == ("HEAD", "/v2/x/y/manifests/1", 404)
    assert parse_access_log_line('time="2026-11-26T15:15:28Z" level=info msg="x"') is None


def test_tampered_blob_is_served_as_stored(
    registry_server: RegistryServer, unique_repository: str
) -> None:
    digest = push_blob(registry_server.url, unique_repository, b"original")
    registry_server.tamper_blob(digest, b"tampered")
    response = httpx.get(f"{registry_server.url}/v2/{unique_repository}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == b"tampered"
    assert response.headers["Docker-Content-Digest"] == digest


def test_server_context_manager_and_stop(tmp_path: Path) -> None:
    from tests.conftest import require_docker_registry

    require_docker_registry()
    with RegistryServer(tmp_path / "reg") as server:
        assert httpx.get(f"{server.url}/v2/").status_code == 200
        url = server.url
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/v2/", timeout=1.0)


def test_pull_layout_is_the_inverse_of_push_layout(
    registry_server: RegistryServer, unique_repository: str, tmp_path: Path
) -> None:
    """The fixture generators copy what real tools pushed back into layouts with pull_layout."""
    source = REAL_DIR / "i-cosign" / "oci-layout"
    pushed = push_layout(registry_server.url, source, unique_repository)
    pulled = pull_layout(registry_server.url, unique_repository, tmp_path / "copy")
    assert pulled == pushed
    original = {p.name: p.read_bytes() for p in (source / "blobs" / "sha256").iterdir()}
    copied = {p.name: p.read_bytes() for p in (tmp_path / "copy" / "blobs" / "sha256").iterdir()}
    assert copied == original
    entries = json.loads((tmp_path / "copy" / "index.json").read_text())["manifests"]
    assert {e["annotations"]["org.opencontainers.image.ref.name"] for e in entries} == set(pushed)
