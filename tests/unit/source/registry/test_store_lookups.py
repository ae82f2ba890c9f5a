"""Signature-store lookups (cosign tags, the referrers fallback tag, the referrers API) of one
digest are shared for ``RegistryOptions.store_window`` (issue 10: an audit asked the registry
again for every tag of an image it had already checked), absences included; an error is never
kept, so a lookup that failed is asked again and never becomes "absent" (fail closed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from provcheck.errors import RegistryHTTPError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions

DIGEST = Digest.of(b"an image")
TAG = f"sha256-{DIGEST.hex}.att"
REPO = "team/app"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def options(tmp_path: Path, store_window: float) -> RegistryOptions:
    return RegistryOptions(
        docker_config_dir=tmp_path / "docker",
        certs_dir=tmp_path / "certs.d",
        backoff_base=0.0,
        max_retries=0,
        tag_window=0.0,  # tags of images are not kept: only the stores' lookups are
        store_window=store_window,
    )


def ref(server: HTTPServer, repository: str = REPO) -> ImageReference:
    return ImageReference.parse(f"{server.host}:{server.port}/{repository}:1")


def _count(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


@pytest.mark.anyio
async def test_absences_are_shared_per_repository_and_digest(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    tag_path = f"/v2/{REPO}/manifests/{TAG}"
    api_path = f"/v2/{REPO}/referrers/{DIGEST}"
    httpserver.expect_request(tag_path).respond_with_json({"errors": []}, status=404)
    httpserver.expect_request(api_path).respond_with_json({"errors": []}, status=404)
    other = f"/v2/other/manifests/{TAG}"
    httpserver.expect_request(other).respond_with_json({"errors": []}, status=404)
    async with RegistryClient(options(tmp_path, 900.0)) as client:
        for _ in range(5):  # one after another, as the tags of one image in an audit
            source = client.source(ref(httpserver))
            assert await source.fetch_tag(TAG) is None
            assert await source.referrers(DIGEST) is None
        assert await client.source(ref(httpserver, "other")).fetch_tag(TAG) is None
    assert _count(httpserver, tag_path) == 1
    assert _count(httpserver, api_path) == 1
    assert _count(httpserver, other) == 1  # another repository asks for itself


@pytest.mark.anyio
async def test_without_a_window_every_lookup_asks(httpserver: HTTPServer, tmp_path: Path) -> None:
    tag_path = f"/v2/{REPO}/manifests/{TAG}"
    httpserver.expect_request(tag_path).respond_with_json({"errors": []}, status=404)
    async with RegistryClient(options(tmp_path, 0.0)) as client:
        for _ in range(3):
            assert await client.source(ref(httpserver)).fetch_tag(TAG) is None
    assert _count(httpserver, tag_path) == 3


@pytest.mark.anyio
async def test_an_error_is_never_kept_as_absent(httpserver: HTTPServer, tmp_path: Path) -> None:
    tag_path = f"/v2/{REPO}/manifests/{TAG}"
    api_path = f"/v2/{REPO}/referrers/{DIGEST}"
    httpserver.expect_ordered_request(tag_path).respond_with_data("down", status=500)
    httpserver.expect_ordered_request(api_path).respond_with_data("down", status=500)
    httpserver.expect_ordered_request(tag_path).respond_with_json({"errors": []}, status=404)
    page = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
    httpserver.expect_ordered_request(api_path).respond_with_json(page)
    async with RegistryClient(options(tmp_path, 900.0)) as client:
        source = client.source(ref(httpserver))
        with pytest.raises(RegistryHTTPError):
            await source.fetch_tag(TAG)
        with pytest.raises(RegistryHTTPError):
            await source.referrers(DIGEST)
        assert await source.fetch_tag(TAG) is None  # asked again: the outage was not "absent"
        assert await source.referrers(DIGEST) == ()
        assert await source.fetch_tag(TAG) is None  # now kept
        assert await source.referrers(DIGEST) == ()
    httpserver.check_assertions()
    assert len(httpserver.log) == 4
