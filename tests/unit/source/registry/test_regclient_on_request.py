"""``RegistryOptions.on_request``: told the host and the outcome of every try of a request (the
seam an admission gate's metrics use), retries and final failures included."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from provcheck.errors import NotFoundError, RegistryConnectionError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions

pytestmark = pytest.mark.anyio

BLOB = b"attestation bytes " * 10
DESC = Descriptor(mt.IN_TOTO, Digest.of(BLOB), len(BLOB))
REF = ImageReference.parse("registry.example.com:5000/lab/x:1")
HOST = "registry.example.com:5000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(tmp_path: Path, steps: list[object], seen: list[tuple[str, bool]]) -> RegistryClient:
    def handler(request: httpx.Request) -> httpx.Response:
        step = steps.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, httpx.Response)
        return step

    options = RegistryOptions(
        docker_config_dir=tmp_path,
        backoff_base=0.0,
        max_retries=2,
        on_request=lambda host, failed: seen.append((host, failed)),
    )
    return RegistryClient(options, transport=httpx.MockTransport(handler))


async def test_each_try_is_reported_with_its_outcome(tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []
    steps: list[object] = [
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(200, content=BLOB),
    ]
    async with _client(tmp_path, steps, seen) as client:
        assert await client.source(REF).fetch_blob(DESC, 1 << 20) == BLOB
    assert seen == [(HOST, True), (HOST, True), (HOST, False)]


async def test_a_final_failure_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []
    steps: list[object] = [httpx.ConnectError("refused")] * 3
    async with _client(tmp_path, steps, seen) as client:
        with pytest.raises(RegistryConnectionError):
            await client.source(REF).fetch_blob(DESC, 1 << 20)
    assert seen == [(HOST, True)] * 3


async def test_a_404_is_a_failed_request(tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []
    async with _client(tmp_path, [httpx.Response(404)], seen) as client:
        with pytest.raises(NotFoundError):
            await client.source(REF).fetch_blob(DESC, 1 << 20)
    assert seen == [(HOST, True)]
