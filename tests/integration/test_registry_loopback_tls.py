"""Loopback registries: HTTPS first, plain HTTP only when the server does not speak TLS, HTTPS only
with --ca-file. Real docker-registry processes, one with TLS on 127.0.0.1 and the plain one."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from provcheck.cli import main
from provcheck.oci.reference import ImageReference
from provcheck.source.registry import RegistryClient, RegistryOptions, StaticCredentials
from tests.conftest import require_docker_registry
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RealRegistry, RegistryServer

CASE = "a-single-min"
EXPECTED = (REAL_DIR / CASE / "inspect.provenance.json").read_text().rstrip("\n")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_registry(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A TLS docker-registry on 127.0.0.1 (the case of the bug report) holding a-single-min."""
    require_docker_registry()
    work = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(work / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(work / "cert.pem"))
    ca_file = work / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = RegistryServer(work / "registry", tls_cert=work / "cert.pem", tls_key=work / "key.pem")
    with server, httpx.Client(verify=ssl.create_default_context(cafile=ca_file)) as client:
        push_layout(server.url, REAL_DIR / CASE / "oci-layout", f"lab/{CASE}", client=client)
        yield server.host


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(autouse=True)
def no_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))


def _inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["inspect", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_tls_and_plain_loopback_registries_work_alike(
    tls_registry: str,
    real_registry: RealRegistry,
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same invocation for both: the TLS one is trusted like a public registry (the system
    store, here SSL_CERT_FILE), the plain one is reached after its non-TLS answer."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    for host in (tls_registry, real_registry.host):
        code, out, err = _inspect(capsys, f"{host}/lab/{CASE}:1", "--format", "provenance")
        assert (code, err) == (0, ""), host
        assert out.rstrip("\n") == EXPECTED


def test_ca_file_for_a_tls_registry_on_127_0_0_1(
    tls_registry: str, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = f"{tls_registry}/lab/{CASE}:1"
    code, out, err = _inspect(capsys, ref, "--format", "provenance", "--ca-file", str(ca_file))
    assert (code, err) == (0, "")
    assert out.rstrip("\n") == EXPECTED


def test_untrusted_tls_on_loopback_is_refused_not_downgraded(
    tls_registry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _inspect(capsys, f"{tls_registry}/lab/{CASE}:1")
    assert (code, out) == (3, "")
    assert err.count("\n") == 1 and "certificate" in err and "--ca-file" in err


def test_ca_file_means_https_only(
    real_registry: RealRegistry, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mark = real_registry.server.mark()
    code, out, err = _inspect(capsys, real_registry.ref(CASE), "--ca-file", str(ca_file))
    assert (code, out) == (3, "")
    assert err.count("\n") == 1
    assert "does not speak TLS" in err and "--insecure-registry" in err
    assert real_registry.server.requests_since(mark) == []  # no plain-HTTP request


def test_plain_http_to_a_tls_registry_gets_a_hint(
    tls_registry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = f"{tls_registry}/lab/{CASE}:1"
    code, out, err = _inspect(capsys, ref, "--insecure-registry", tls_registry)
    assert (code, out) == (3, "")
    assert err.count("\n") == 1
    assert "HTTP 400" in err and "if the registry speaks HTTPS" in err


class HelloCounter:
    """A TCP relay in front of a registry that counts connections opening with a TLS record."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self.tls_hellos = 0
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            first = client.recv(1, socket.MSG_PEEK)
            if first == b"\x16":  # TLS handshake record
                self.tls_hellos += 1
            upstream = socket.create_connection(self._upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> HelloCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()


def test_fallback_is_decided_once_per_host(real_registry: RealRegistry, tmp_path: Path) -> None:
    async def run(host: str) -> None:
        options = RegistryOptions(docker_config_dir=tmp_path)
        async with RegistryClient(options) as client:
            ref = ImageReference.parse(f"{host}/{real_registry.repositories['b-multi-max']}:1")
            # Anonymous providers of their own: 12 requests at once, not merged into one.
            sources = [client.source(ref, credentials=StaticCredentials({})) for _ in range(12)]
            results = await asyncio.gather(*(source.resolve("1") for source in sources))
            assert len({d.digest for d, _ in results}) == 1
            assert client.requests_made == 12
            assert client.base_url(host) == f"http://{host}"

    with HelloCounter(real_registry.host) as relay:
        asyncio.run(run(relay.host))
    assert relay.tls_hellos == 1
    assert relay.connections >= 2


def test_one_tls_attempt_for_a_whole_command(
    real_registry: RealRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    with HelloCounter(real_registry.host) as relay:
        ref = f"{relay.host}/{real_registry.repositories['b-multi-max']}:1"
        code, _, err = _inspect(capsys, ref, "--format", "json")
    assert (code, err) == (0, "")
    assert relay.tls_hellos == 1
