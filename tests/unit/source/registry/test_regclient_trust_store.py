"""Which trust store a plain-HTTP endpoint uses: none for its own requests, the endpoint's TLS
settings (system store, ``--ca-file``, certs.d) for an HTTPS redirect. Never certifi."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from pytest_httpserver import HTTPServer

from provcheck.errors import RegistryConnectionError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions
from provcheck.source.registry.client import RegistrySource

pytestmark = pytest.mark.anyio

PLAIN_HOST = "127.0.0.1"
TLS_HOST = "127.0.0.2"
BLOB = b'{"a":1}'
BLOB_DESC = Descriptor(mt.IN_TOTO, Digest.of(BLOB), len(BLOB))
INDEX = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def storage(ca: trustme.CA) -> Iterator[HTTPServer]:
    """Blob storage over TLS, with a certificate of the test CA (in no trust store)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(TLS_HOST).configure_cert(context)
    server = HTTPServer(host=TLS_HOST, port=0, ssl_context=context)
    server.start()
    server.expect_request("/blob").respond_with_data(BLOB)
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def registry(storage: HTTPServer) -> Iterator[HTTPServer]:
    """A plain-HTTP registry that answers tags and redirects blobs to ``storage``."""
    server = HTTPServer(host=PLAIN_HOST, port=0)
    server.start()
    server.expect_request("/v2/lab/x/manifests/1").respond_with_data(
        INDEX, content_type=mt.OCI_INDEX
    )
    location = f"https://{TLS_HOST}:{storage.port}/blob"
    server.expect_request(f"/v2/lab/x/blobs/{BLOB_DESC.digest}").respond_with_data(
        "", status=307, headers={"Location": location}
    )
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def trust_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every CA load of any SSL context: certifi or ``--ca-file`` files, the system store."""
    seen: list[str] = []

    def counting(name: str) -> Callable[..., Any]:
        original = getattr(ssl.SSLContext, name)

        def wrapper(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> Any:
            seen.append(name)
            return original(self, *args, **kwargs)

        return wrapper

    for name in ("load_verify_locations", "set_default_verify_paths"):
        monkeypatch.setattr(ssl.SSLContext, name, counting(name))
    return seen


def _endpoint(server: HTTPServer) -> str:
    return f"{server.host}:{server.port}"


def _options(tmp_path: Path, insecure: frozenset[str], **kwargs: Any) -> RegistryOptions:
    return RegistryOptions(
        insecure_registries=insecure,
        docker_config_dir=tmp_path / "docker",
        certs_dir=kwargs.pop("certs_dir", tmp_path / "certs.d"),
        max_retries=0,
        **kwargs,
    )


def _source(client: RegistryClient, endpoint: str) -> RegistrySource:
    """The source of ``lab/x`` (whose tag ``1`` is the registry fixture's index)."""
    return client.source(ImageReference.parse(f"{endpoint}/lab/x:1"))


def _ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    """``ca``'s certificate written to ``tmp_path/ca.pem`` (a ``--ca-file``)."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca_file


@pytest.mark.parametrize("insecure", [True, False], ids=["insecure-registry", "loopback"])
async def test_plain_http_loads_no_trust_store(
    registry: HTTPServer, tmp_path: Path, trust_loads: list[str], insecure: bool
) -> None:
    """Named with --insecure-registry, or found plain on loopback (after a ClientHello that
    needs no trust anchors): no CA bundle and no system store is read."""
    endpoint = _endpoint(registry)
    options = _options(tmp_path, frozenset({endpoint} if insecure else ()))
    async with RegistryClient(options) as client:
        source = _source(client, endpoint)
        descriptor, _ = await source.resolve("1")
        await source.resolve("1")
        assert client.base_url(endpoint) == f"http://{endpoint}"
    assert descriptor.digest == Digest.of(INDEX)
    assert trust_loads == []


async def test_https_redirect_of_a_plain_registry_trusts_the_ca_file(
    registry: HTTPServer,
    storage: HTTPServer,
    ca: trustme.CA,
    tmp_path: Path,
    trust_loads: list[str],
) -> None:
    """The redirect target is verified with the endpoint's TLS settings (--ca-file here),
    loaded at the redirect: the system store and the CA file, no certifi bundle."""
    ca_file = _ca_file(ca, tmp_path)
    endpoint = _endpoint(registry)
    options = _options(tmp_path, frozenset({endpoint}), ca_file=ca_file)
    async with RegistryClient(options) as client:
        source = _source(client, endpoint)
        await source.resolve("1")
        assert trust_loads == []
        assert await source.fetch_blob(BLOB_DESC, 1 << 20) == BLOB
    assert trust_loads == ["set_default_verify_paths", "load_verify_locations"]
    assert len(storage.log) == 1


async def test_https_redirect_of_a_plain_registry_trusts_its_certs_dir(
    registry: HTTPServer, storage: HTTPServer, ca: trustme.CA, tmp_path: Path
) -> None:
    endpoint = _endpoint(registry)
    certs = tmp_path / "certs.d"
    (certs / endpoint).mkdir(parents=True)
    ca.cert_pem.write_to_path(str(certs / endpoint / "ca.crt"))
    options = _options(tmp_path, frozenset({endpoint}), certs_dir=certs)
    async with RegistryClient(options) as client:
        source = _source(client, endpoint)
        assert await source.fetch_blob(BLOB_DESC, 1 << 20) == BLOB


async def test_https_redirect_to_an_untrusted_server_fails_closed(
    registry: HTTPServer, storage: HTTPServer, tmp_path: Path
) -> None:
    endpoint = _endpoint(registry)
    async with RegistryClient(_options(tmp_path, frozenset({endpoint}))) as client:
        source = _source(client, endpoint)
        with pytest.raises(RegistryConnectionError, match="certificate"):
            await source.fetch_blob(BLOB_DESC, 1 << 20)
    assert storage.log == []


async def test_concurrent_https_redirects_share_one_tls_setup(
    registry: HTTPServer,
    storage: HTTPServer,
    ca: trustme.CA,
    tmp_path: Path,
    trust_loads: list[str],
) -> None:
    ca_file = _ca_file(ca, tmp_path)
    endpoint = _endpoint(registry)
    options = _options(tmp_path, frozenset({endpoint}), ca_file=ca_file)
    async with RegistryClient(options) as client:
        source = _source(client, endpoint)
        blobs = await asyncio.gather(*(source.fetch_blob(BLOB_DESC, 1 << 20) for _ in range(8)))
    assert blobs == [BLOB] * 8
    assert trust_loads == ["set_default_verify_paths", "load_verify_locations"]
