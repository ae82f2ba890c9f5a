"""The referrers client against a fake that follows distribution-spec 1.1 where no real
registry here does (go-containerregistry's lists everything on one page and never filters):
``?artifactType=`` filtering announced by ``OCI-Filters-Applied: artifactType``, and pagination
with ``Link: <…>; rel="next"``. provcheck follows the pages (at most ``MAX_REFERRER_PAGES``, then
an error, never a partial list), and never asks the server to filter: it needs several artifact
types from one listing, so it classifies every referrer itself from the manifest it fetches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from provcheck.errors import RegistryError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions
from provcheck.source.registry.client import MAX_REFERRER_PAGES

SUBJECT = Digest.of(b"the subject")
REPO = "team/app"
TYPES = (
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/spdx+json",
    "application/vnd.dev.cosign.artifact.sig.v1+json",
)


def _descriptor(n: int) -> dict[str, Any]:
    return {
        "mediaType": mt.OCI_MANIFEST,
        "digest": str(Digest.of(f"referrer {n}".encode())),
        "size": 100 + n,
        "artifactType": TYPES[n % len(TYPES)],
    }


class SpecReferrers:
    """``GET /v2/<name>/referrers/<digest>`` as distribution-spec 1.1 describes it: an OCI
    index, ``artifactType`` filtering with ``OCI-Filters-Applied``, ``n`` entries a page with a
    ``Link`` to the next (``last`` = the digest the page ended with)."""

    def __init__(self, descriptors: list[dict[str, Any]], page_size: int) -> None:
        self.descriptors = descriptors
        self.page_size = page_size
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: Request) -> Response:
        query = dict(request.args)
        self.queries.append(query)
        listed = self.descriptors
        headers: dict[str, str] = {}
        wanted = query.get("artifactType")
        if wanted is not None:
            listed = [d for d in listed if d["artifactType"] == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        last = query.get("last")
        if last is not None:
            at = [d["digest"] for d in listed].index(last) + 1
            listed = listed[at:]
        page, rest = listed[: self.page_size], listed[self.page_size :]
        if rest:
            link = f"{request.path}?n={self.page_size}&last={page[-1]['digest']}"
            if wanted is not None:
                link += f"&artifactType={wanted}"
            headers["Link"] = f'<{link}>; rel="next"'
        body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": page}
        return Response(json.dumps(body), 200, headers, content_type=mt.OCI_INDEX)


def options(tmp_path: Path) -> RegistryOptions:
    return RegistryOptions(
        docker_config_dir=tmp_path / "docker", certs_dir=tmp_path / "certs.d", store_window=0.0
    )


def ref(server: HTTPServer) -> ImageReference:
    return ImageReference.parse(f"{server.host}:{server.port}/{REPO}:1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_every_page_is_followed_and_nothing_filtered(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    descriptors = [_descriptor(n) for n in range(7)]
    fake = SpecReferrers(descriptors, page_size=3)
    httpserver.expect_request(f"/v2/{REPO}/referrers/{SUBJECT}").respond_with_handler(fake)
    async with RegistryClient(options(tmp_path)) as client:
        found = await client.source(ref(httpserver)).referrers(SUBJECT)
    assert found is not None
    assert [str(d.digest) for d in found] == [d["digest"] for d in descriptors]
    assert [d.artifact_type for d in found] == [d["artifactType"] for d in descriptors]
    assert len(fake.queries) == 3  # 3 + 3 + 1
    assert all("artifactType" not in q for q in fake.queries)  # never asks the server to filter


def test_the_fake_filters_as_the_spec_says() -> None:
    """The fake itself: a filtered listing says so, and keeps the filter across pages."""
    from werkzeug.test import EnvironBuilder

    fake = SpecReferrers([_descriptor(n) for n in range(9)], page_size=2)
    path = f"/v2/{REPO}/referrers/{SUBJECT}"
    request = Request(
        EnvironBuilder(path=path, query_string={"artifactType": TYPES[1]}).get_environ()
    )
    response = fake(request)
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    page = json.loads(response.get_data())["manifests"]
    assert {d["artifactType"] for d in page} == {TYPES[1]}
    assert f"artifactType={TYPES[1]}" in response.headers["Link"]


@pytest.mark.anyio
async def test_pages_past_the_cap_are_an_error_not_a_partial_list(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A server that never stops paginating: after MAX_REFERRER_PAGES the lookup fails (the
    stores report a fetch problem), it never returns what it had read so far as the whole."""
    path = f"/v2/{REPO}/referrers/{SUBJECT}"
    pages = 0

    def endless(request: Request) -> Response:
        nonlocal pages
        pages += 1
        body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [_descriptor(pages)]}
        link = f'<{path}?n=1&last=page{pages}>; rel="next"'
        return Response(json.dumps(body), 200, {"Link": link}, content_type=mt.OCI_INDEX)

    httpserver.expect_request(path).respond_with_handler(endless)
    async with RegistryClient(options(tmp_path)) as client:
        with pytest.raises(RegistryError, match=f"more than {MAX_REFERRER_PAGES} pages"):
            await client.source(ref(httpserver)).referrers(SUBJECT)
    assert pages == MAX_REFERRER_PAGES
