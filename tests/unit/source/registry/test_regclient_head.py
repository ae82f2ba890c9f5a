"""``RegistrySource.head``: a tag resolved by one ``HEAD``, then read by digest.

A registry that leaves out ``Docker-Content-Digest`` or names a digest its bytes do not have
is a fault the test registry cannot produce, so the network is an ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from provcheck.errors import IntegrityError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions

INDEX = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}).encode()
OTHER = INDEX + b" "
REF = ImageReference.parse("registry.example.com/lab/x:1")


class _Registry:
    """Serves ``body`` by tag ``1`` and by its digest; ``HEAD`` of the tag answers with
    ``header`` as ``Docker-Content-Digest`` (none when ``None``)."""

    def __init__(self, header: str | None, body: bytes = INDEX) -> None:
        self.header, self.body = header, body
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        path = request.url.path
        if not path.endswith(("/manifests/1", f"/manifests/{self.header}")):
            return httpx.Response(404)
        headers = {"Content-Type": mt.OCI_INDEX}
        if request.method == "HEAD":
            if self.header is not None:
                headers["Docker-Content-Digest"] = self.header
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, content=self.body, headers=headers)


def _run(tmp_path: Path, registry: _Registry) -> tuple[Digest | None, bytes]:
    async def run() -> tuple[Digest | None, bytes]:
        options = RegistryOptions(docker_config_dir=tmp_path)
        transport = httpx.MockTransport(registry)
        async with RegistryClient(options, transport=transport) as client:
            source = client.source(REF)
            digest = await source.head("1")
            _, body = await source.resolve("1")
            return digest, body

    return asyncio.run(run())


def test_a_head_digest_is_read_by_digest(tmp_path: Path) -> None:
    digest = Digest.of(INDEX)
    registry = _Registry(str(digest))
    assert _run(tmp_path, registry) == (digest, INDEX)
    assert registry.seen == [
        ("HEAD", "/v2/lab/x/manifests/1"),
        ("GET", f"/v2/lab/x/manifests/{digest}"),
    ]


def test_without_a_digest_header_the_tag_is_resolved_by_get(tmp_path: Path) -> None:
    registry = _Registry(None)
    assert _run(tmp_path, registry) == (None, INDEX)
    assert registry.seen == [("HEAD", "/v2/lab/x/manifests/1"), ("GET", "/v2/lab/x/manifests/1")]


def test_a_head_digest_that_the_bytes_do_not_have_is_an_integrity_error(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError):
        _run(tmp_path, _Registry(str(Digest.of(INDEX)), body=OTHER))


def test_a_malformed_digest_header_is_an_integrity_error(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match="malformed Docker-Content-Digest"):
        _run(tmp_path, _Registry("sha256:nothex"))
