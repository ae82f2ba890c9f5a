"""TLS per registry endpoint (trustme CA) and the choice between https and plain http."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pytest_httpserver import HTTPServer

from provcheck.errors import RegistryConnectionError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions
from provcheck.source.registry.transport import registry_scheme

pytestmark = pytest.mark.anyio

HOST = "127.0.0.2"  # loopback, but not one of the hosts that get plain HTTP
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


async def test_plain_http_server_on_non_loopback_name_gets_https(tmp_path: Path) -> None:
    server = HTTPServer(host=HOST, port=0)
    server.start()
    try:
        server.expect_request("/v2/lab/x/manifests/1").respond_with_data(INDEX)
        async with RegistryClient(_options(tmp_path, max_retries=1)) as client:
            with pytest.raises(RegistryConnectionError):
                await client.source(_ref(server)).resolve("1")
        assert server.log == []  # no plain-HTTP request was made
        insecure = frozenset({f"{HOST}:{server.port}"})
        async with RegistryClient(_options(tmp_path, insecure_registries=insecure)) as client:
            descriptor, _ = await client.source(_ref(server)).resolve("1")
        assert descriptor.size == len(INDEX)
    finally:
        server.clear()
        server.stop()


@pytest.mark.parametrize(
    ("endpoint", "insecure", "scheme"),
    [
        ("localhost:5000", (), "http"),
        ("localhost", (), "http"),
        ("127.0.0.1:443", (), "http"),
        ("[::1]:5000", (), "http"),
        ("LOCALHOST:5000", (), "http"),
        ("registry.example.com", (), "https"),
        ("registry.example.com:5000", (), "https"),
        ("registry-1.docker.io", (), "https"),
        ("127.0.0.2:5000", (), "https"),
        ("localhost.example.com:5000", (), "https"),
        ("registry.example.com:5000", ("registry.example.com:5000",), "http"),
        ("registry.example.com:5000", ("registry.example.com",), "https"),
        ("registry.example.com", ("registry.example.com",), "http"),
        ("Registry.Example.com", ("registry.example.COM",), "http"),
    ],
)
def test_scheme(endpoint: str, insecure: tuple[str, ...], scheme: str) -> None:
    assert registry_scheme(endpoint, frozenset(insecure)) == scheme


def test_source_url_scheme(tmp_path: Path) -> None:
    client = RegistryClient(_options(tmp_path))
    assert client.base_url("registry.example.com:5000") == "https://registry.example.com:5000"
    assert client.base_url("localhost:5000") == "http://localhost:5000"
