"""Faults a real server cannot produce on demand, injected with httpx.MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from provcheck.errors import ProvcheckError, RegistryConnectionError, RegistryHTTPError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions

pytestmark = pytest.mark.anyio

BLOB = b"0123456789" * 100
DESC = Descriptor(mt.IN_TOTO, Digest.of(BLOB), len(BLOB))
REF = ImageReference.parse("registry.example.com/lab/x:1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response]) -> RegistryClient:
    options = RegistryOptions(docker_config_dir=tmp_path, backoff_base=0.0, max_retry_after=0.01)
    return RegistryClient(options, transport=httpx.MockTransport(handler))


class _Truncated(httpx.AsyncByteStream):
    """Sends part of the body, then fails as h11 does when the peer closes early."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield BLOB[:100]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def _script(*steps: object) -> tuple[Callable[[httpx.Request], httpx.Response], list[str]]:
    urls: list[str] = []
    remaining = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        step = remaining.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, httpx.Response)
        return step

    return handler, urls


async def test_connect_timeout_then_success(tmp_path: Path) -> None:
    handler, urls = _script(httpx.ConnectTimeout("timed out"), httpx.Response(200, content=BLOB))
    async with _client(tmp_path, handler) as client:
        assert await client.source(REF).fetch_blob(DESC, 1 << 20) == BLOB
        assert client.requests_made == 2
    assert urls == [f"https://registry.example.com/v2/lab/x/blobs/{DESC.digest}"] * 2


async def test_connection_reset_then_success(tmp_path: Path) -> None:
    handler, _ = _script(
        httpx.ReadError("[Errno 104] Connection reset by peer"), httpx.Response(200, content=BLOB)
    )
    async with _client(tmp_path, handler) as client:
        assert await client.source(REF).fetch_blob(DESC, 1 << 20) == BLOB


async def test_truncated_body_is_retried_then_reported(tmp_path: Path) -> None:
    headers = {"Content-Length": str(len(BLOB))}
    handler, urls = _script(
        *(httpx.Response(200, headers=headers, stream=_Truncated()) for _ in range(4))
    )
    async with _client(tmp_path, handler) as client:
        with pytest.raises(RegistryConnectionError, match="RemoteProtocolError") as info:
            await client.source(REF).fetch_blob(DESC, 1 << 20)
    assert len(urls) == 4
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


async def test_truncated_body_then_success(tmp_path: Path) -> None:
    handler, _ = _script(
        httpx.Response(200, headers={"Content-Length": str(len(BLOB))}, stream=_Truncated()),
        httpx.Response(200, content=BLOB),
    )
    async with _client(tmp_path, handler) as client:
        assert await client.source(REF).fetch_blob(DESC, 1 << 20) == BLOB


async def test_persistent_connect_error(tmp_path: Path) -> None:
    handler, _ = _script(*(httpx.ConnectError("refused") for _ in range(4)))
    async with _client(tmp_path, handler) as client:
        with pytest.raises(RegistryConnectionError, match="after 4 tries"):
            await client.source(REF).resolve("1")
        assert client.requests_made == 4


async def test_read_timeout_on_token_endpoint_is_retried(tmp_path: Path) -> None:
    challenge = 'Bearer realm="https://auth.example.com/token",service="reg"'
    handler, urls = _script(
        httpx.Response(401, headers={"WWW-Authenticate": challenge}),
        httpx.ReadTimeout("slow"),
        httpx.Response(401, headers={"WWW-Authenticate": challenge}),
        httpx.Response(200, json={"token": "t"}),
        httpx.Response(200, content=BLOB),
    )
    async with _client(tmp_path, handler) as client:
        assert await client.source(REF).fetch_blob(DESC, 1 << 20) == BLOB
        assert client.requests_made == 5
    assert urls[1].startswith("https://auth.example.com/token?service=reg&scope=repository")


async def test_token_endpoint_503_then_gives_up(tmp_path: Path) -> None:
    challenge = 'Bearer realm="https://auth.example.com/token"'
    steps: list[object] = []
    for _ in range(4):
        steps += [httpx.Response(401, headers={"WWW-Authenticate": challenge}), httpx.Response(503)]
    handler, _ = _script(*steps)
    async with _client(tmp_path, handler) as client:
        with pytest.raises(RegistryHTTPError) as info:
            await client.source(REF).resolve("1")
    assert info.value.status_code == 503


async def test_retry_after_http_date(tmp_path: Path) -> None:
    handler, urls = _script(
        httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
        httpx.Response(200, content=BLOB),
    )
    async with _client(tmp_path, handler) as client:  # capped at max_retry_after=0.01 s
        assert await client.source(REF).fetch_blob(DESC, 1 << 20) == BLOB
    assert len(urls) == 2


async def test_no_httpx_exception_escapes(tmp_path: Path) -> None:
    for fault in (
        httpx.UnsupportedProtocol("ftp"),
        httpx.DecodingError("bad gzip"),
        httpx.ProxyError("proxy"),
        httpx.LocalProtocolError("bad"),
    ):
        handler, _ = _script(*([fault] * 4))
        async with _client(tmp_path, handler) as client:
            with pytest.raises(ProvcheckError):
                await client.source(REF).fetch_blob(DESC, 1 << 20)
