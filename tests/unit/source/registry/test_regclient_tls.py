"""TLS per registry endpoint (trustme CA) and the choice between https and plain http."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from pytest_httpserver import HTTPServer

from provcheck.errors import RegistryConnectionError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions
from provcheck.source.registry.connection import SchemePolicy, scheme_policy

pytestmark = pytest.mark.anyio

HOST = "127.0.0.2"  # loopback: HTTPS first, plain HTTP only if the server does not speak TLS
INDEX = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[HTTPServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    server = HTTPServer(host=HOST, port=0, ssl_context=context)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def registry(tls_server: HTTPServer) -> HTTPServer:
    tls_server.clear()
    tls_server.expect_request("/v2/lab/x/manifests/1").respond_with_data(
        INDEX, content_type=mt.OCI_INDEX
    )
    return tls_server


def _options(tmp_path: Path, **kwargs: object) -> RegistryOptions:
    return RegistryOptions(
        docker_config_dir=tmp_path / "docker",
        certs_dir=kwargs.pop("certs_dir", tmp_path / "certs.d"),  # type: ignore[arg-type]
        backoff_base=0.0,
        tag_window=0.0,  # each resolution of a tag is a request: these tests count them
        **kwargs,  # type: ignore[arg-type]
    )


def _ref(server: HTTPServer) -> ImageReference:
    return ImageReference.parse(f"{server.host}:{server.port}/lab/x:1")


async def test_ca_file(registry: HTTPServer, ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with RegistryClient(_options(tmp_path, ca_file=ca_file)) as client:
        descriptor, _ = await client.source(_ref(registry)).resolve("1")
    assert descriptor.digest == Digest.of(INDEX)
    assert registry.log[0][0].scheme == "https"


async def test_docker_certs_dir(registry: HTTPServer, ca: trustme.CA, tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    (certs / f"{HOST}:{registry.port}").mkdir(parents=True)
    ca.cert_pem.write_to_path(str(certs / f"{HOST}:{registry.port}" / "ca.crt"))
    async with RegistryClient(_options(tmp_path, certs_dir=certs)) as client:
        descriptor, _ = await client.source(_ref(registry)).resolve("1")
    assert descriptor.digest == Digest.of(INDEX)


async def test_unknown_ca_fails_without_retries(registry: HTTPServer, tmp_path: Path) -> None:
    async with RegistryClient(_options(tmp_path)) as client:
        with pytest.raises(RegistryConnectionError, match="TLS") as info:
            await client.source(_ref(registry)).resolve("1")
        assert client.requests_made == 1  # a verification failure is not retried
    assert info.value.__cause__ is not None
    assert registry.log == []


async def test_certs_dir_of_another_endpoint_does_not_apply(
    registry: HTTPServer, ca: trustme.CA, tmp_path: Path
) -> None:
    certs = tmp_path / "certs.d"
    (certs / HOST).mkdir(parents=True)  # no port: Docker would not use it for HOST:port
    ca.cert_pem.write_to_path(str(certs / HOST / "ca.crt"))
    async with RegistryClient(_options(tmp_path, certs_dir=certs)) as client:
        with pytest.raises(RegistryConnectionError):
            await client.source(_ref(registry)).resolve("1")


def _not_tls() -> httpx.ConnectError:
    """What httpx raises when a plain-HTTP server answers a TLS ClientHello."""
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    exc = httpx.ConnectError(str(error))
    exc.__cause__ = error
    return exc


async def test_non_loopback_host_never_falls_back_to_plain_http(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        raise _not_tls()

    options = _options(tmp_path, max_retries=0)
    transport = httpx.MockTransport(handler)
    async with RegistryClient(options, transport=transport) as client:
        ref = ImageReference.parse("registry.example.com:5000/lab/x:1")
        with pytest.raises(
            RegistryConnectionError, match=r"does not speak TLS.*--insecure-registry"
        ):
            await client.source(ref).resolve("1")
    assert seen == ["https://registry.example.com:5000/v2/lab/x/manifests/1"]


@pytest.mark.parametrize(("bind", "shown"), [(HOST, HOST), ("::1", "[::1]")])
async def test_plain_http_loopback_server_gets_https_then_http(
    tmp_path: Path, bind: str, shown: str
) -> None:
    """127.0.0.2 and ::1 are loopback: HTTPS first, plain HTTP once the server answers TLS with
    something that is not TLS."""
    server = HTTPServer(host=bind, port=0)
    server.start()
    try:
        server.expect_request("/v2/lab/x/manifests/1").respond_with_data(
            INDEX, content_type=mt.OCI_INDEX
        )
        endpoint = f"{shown}:{server.port}"
        async with RegistryClient(_options(tmp_path, max_retries=0)) as client:
            source = client.source(ImageReference.parse(f"{endpoint}/lab/x:1"))
            descriptor, _ = await source.resolve("1")
            assert client.base_url(endpoint) == f"http://{endpoint}"
            await source.resolve("1")
            assert client.requests_made == 2
        assert descriptor.size == len(INDEX)
        assert [request.scheme for request, _ in server.log] == ["http", "http"]
    finally:
        server.clear()
        server.stop()


async def test_ca_file_means_https_only_on_loopback(ca: trustme.CA, tmp_path: Path) -> None:
    server = HTTPServer(host=HOST, port=0)
    server.start()
    try:
        server.expect_request("/v2/lab/x/manifests/1").respond_with_data(INDEX)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        async with RegistryClient(_options(tmp_path, ca_file=ca_file, max_retries=0)) as client:
            with pytest.raises(RegistryConnectionError, match="does not speak TLS"):
                await client.source(_ref(server)).resolve("1")
        assert server.log == []  # no plain-HTTP request was made
    finally:
        server.clear()
        server.stop()


@pytest.mark.parametrize(
    ("endpoint", "insecure", "policy"),
    [
        ("localhost:5000", (), SchemePolicy.HTTPS_THEN_HTTP),
        ("localhost", (), SchemePolicy.HTTPS_THEN_HTTP),
        ("127.0.0.1:443", (), SchemePolicy.HTTPS_THEN_HTTP),
        ("127.0.0.2:5000", (), SchemePolicy.HTTPS_THEN_HTTP),
        ("127.255.255.254", (), SchemePolicy.HTTPS_THEN_HTTP),
        ("[::1]:5000", (), SchemePolicy.HTTPS_THEN_HTTP),
        ("LOCALHOST:5000", (), SchemePolicy.HTTPS_THEN_HTTP),
        ("localhost:5000", ("localhost:5000",), SchemePolicy.HTTP),
        ("registry.example.com", (), SchemePolicy.HTTPS),
        ("registry.example.com:5000", (), SchemePolicy.HTTPS),
        ("registry-1.docker.io", (), SchemePolicy.HTTPS),
        ("128.0.0.1:5000", (), SchemePolicy.HTTPS),
        ("[::2]:5000", (), SchemePolicy.HTTPS),
        ("localhost.example.com:5000", (), SchemePolicy.HTTPS),
        ("127.0.0.1.example.com", (), SchemePolicy.HTTPS),
        ("registry.example.com:5000", ("registry.example.com:5000",), SchemePolicy.HTTP),
        ("registry.example.com:5000", ("registry.example.com",), SchemePolicy.HTTPS),
        ("registry.example.com", ("registry.example.com",), SchemePolicy.HTTP),
        ("Registry.Example.com", ("registry.example.COM",), SchemePolicy.HTTP),
    ],
)
def test_scheme_policy(
    endpoint: str, insecure: tuple[str, ...], policy: SchemePolicy, tmp_path: Path
) -> None:
    options = _options(tmp_path, insecure_registries=frozenset(insecure))
    assert scheme_policy(endpoint, options) is policy


def test_ca_file_or_certs_dir_make_loopback_https_only(tmp_path: Path) -> None:
    with_ca = _options(tmp_path, ca_file=tmp_path / "ca.pem")
    assert scheme_policy("127.0.0.1:5000", with_ca) is SchemePolicy.HTTPS
    (tmp_path / "certs.d" / "localhost:5443").mkdir(parents=True)
    assert scheme_policy("localhost:5443", _options(tmp_path)) is SchemePolicy.HTTPS
    assert scheme_policy("localhost:5000", _options(tmp_path)) is SchemePolicy.HTTPS_THEN_HTTP


def test_source_url_scheme(tmp_path: Path) -> None:
    options = _options(tmp_path, insecure_registries=frozenset({"reg.local:5000"}))
    client = RegistryClient(options)
    assert client.base_url("registry.example.com:5000") == "https://registry.example.com:5000"
    assert client.base_url("localhost:5000") == "https://localhost:5000"  # until it falls back
    assert client.base_url("reg.local:5000") == "http://reg.local:5000"
