"""The write path's digest checks: a registry that stores other bytes than were sent (a fault a
real registry does not produce on demand), injected with httpx.MockTransport. The happy path is
tested against the real docker-registry (tests/integration/test_vsa.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from provcheck.errors import IntegrityError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions
from provcheck.source.registry.push import push_blob, push_manifest

pytestmark = pytest.mark.anyio

REF = ImageReference.parse("registry.example.com/lab/x:1")
WRONG = str(Digest.of(b"something else"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response]) -> RegistryClient:
    options = RegistryOptions(docker_config_dir=tmp_path, backoff_base=0.0, max_retry_after=0.01)
    return RegistryClient(options, transport=httpx.MockTransport(handler))


def _registry(seen: list[tuple[str, str]]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/v2/lab/x/blobs/uploads/u1?_state=s"})
        assert request.method == "PUT"
        if "/blobs/uploads/" in request.url.path:
            assert request.url.params["_state"] == "s"  # the registry's own query is kept
            assert request.url.params["digest"] == str(Digest.of(request.content))
        return httpx.Response(201, headers={"Docker-Content-Digest": WRONG})

    return handler


async def test_a_blob_stored_under_another_digest_is_an_integrity_error(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    async with _client(tmp_path, _registry(seen)) as client:
        with pytest.raises(IntegrityError, match="stored blob"):
            await push_blob(client.source(REF), b"envelope", mt.DSSE_ENVELOPE)
    assert [m for m, _ in seen] == ["HEAD", "POST", "PUT"]


async def test_a_manifest_stored_under_another_digest_is_an_integrity_error(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, str]] = []
    async with _client(tmp_path, _registry(seen)) as client:
        with pytest.raises(IntegrityError, match="stored manifest"):
            await push_manifest(client.source(REF), "sha256-ab.att", b"{}", mt.OCI_MANIFEST)
    assert seen == [("PUT", "/v2/lab/x/manifests/sha256-ab.att")]


async def test_a_blob_already_there_is_not_sent_again(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(200)

    async with _client(tmp_path, handler) as client:
        pushed = await push_blob(client.source(REF), b"envelope", mt.DSSE_ENVELOPE)
    assert seen == ["HEAD"]
    assert pushed.digest == Digest.of(b"envelope")
