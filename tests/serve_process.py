"""A real ``provcheck serve`` for the tests: a subprocess of ``.venv/bin/provcheck serve`` on a
free loopback port, with a TLS certificate made here (a CA and a server certificate for
127.0.0.1 and localhost, with ``cryptography``), talked to with httpx over TLS trusting the CA;
and the ``AdmissionReview`` documents the API server sends."""

from __future__ import annotations

import datetime
import ipaddress
import json
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.paths import REPO_ROOT

PROVCHECK: Final = REPO_ROOT / ".venv" / "bin" / "provcheck"
START_TIMEOUT: Final = 30.0


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files: the CA the client trusts, the server's certificate and key."""

    ca: Path
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls(folder: Path) -> TlsFiles:
    """A CA and a server certificate for ``127.0.0.1`` and ``localhost`` it signed, in ``folder``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("provcheck test CA"))
        .issuer_name(_name("provcheck test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("provcheck-gate"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    """``provcheck serve`` in a subprocess; its stderr (the JSON log) goes to a file."""

    def __init__(
        self, folder: Path, tls: TlsFiles, policy: Path, extra: Sequence[str] = ()
    ) -> None:
        self.port = free_port()
        self.tls = tls
        self.log_path = folder / f"serve-{self.port}.log"
        self.argv = [
            str(PROVCHECK),
            "serve",
            f"--policy={policy}",
            f"--tls-cert={tls.cert}",
            f"--tls-key={tls.key}",
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--cache={folder / f'cache-{self.port}'}",
            *extra,
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=self._log, stdin=subprocess.DEVNULL
        )
        self.url = f"https://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP/1.1 client trusting only the test CA."""
        context = ssl.create_default_context(cafile=str(self.tls.ca))
        return httpx.Client(base_url=self.url, verify=context, timeout=30.0, **kwargs)

    def wait_alive(self) -> None:
        """Until ``/healthz`` answers 200 (or the process exits: AssertionError)."""
        end = time.monotonic() + START_TIMEOUT
        with self.client() as client:
            while time.monotonic() < end:
                assert self.process.poll() is None, self.log_text()
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise AssertionError(f"serve did not start\n{self.log_text()}")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until ``/readyz`` answers 200."""
        end = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < end:
                if client.get("/readyz").status_code == 200:
                    return
                time.sleep(0.05)
        raise AssertionError(f"serve did not turn ready\n{self.log_text()}")

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records so far (every stderr line must be one)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


@contextmanager
def serving(
    folder: Path, tls: TlsFiles, policy: Path, extra: Sequence[str] = ()
) -> Iterator[ServeProcess]:
    """A started server (alive), killed at the end if still running."""
    server = ServeProcess(folder, tls, policy, extra)
    try:
        server.wait_alive()
        yield server
    finally:
        server.kill()


class HangingServer:
    """A loopback TCP server that accepts connections and never answers (a hung registry),
    until :meth:`release` closes them all."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)

    def release(self) -> None:
        """Close every connection and stop listening: further connections are refused."""
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for connection in self._held:
            connection.close()


# The AdmissionReview documents, as the API server sends them.

POD_RESOURCE: Final = {"group": "", "version": "v1", "resource": "pods"}


def pod(images: Sequence[str], *, name: str = "app", init: Sequence[str] = ()) -> dict[str, Any]:
    """A Pod whose containers run ``images`` (and init containers ``init``)."""
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    }
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": image} for i, image in enumerate(init)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }


def review(
    obj: Mapping[str, Any] | None,
    *,
    operation: str = "CREATE",
    uid: str | None = None,
    namespace: str = "shop",
    dry_run: bool = False,
) -> dict[str, Any]:
    """An ``admission.k8s.io/v1`` ``AdmissionReview`` of ``obj`` (a Pod) by ``operation``."""
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": POD_RESOURCE,
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": POD_RESOURCE,
        "name": obj["metadata"]["name"] if obj else "app",
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters"]},
        "object": obj,
        "oldObject": None,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def post_review(
    client: httpx.Client, path: str, document: Mapping[str, Any], **kwargs: Any
) -> httpx.Response:
    """POST ``document`` as JSON to ``path``."""
    body = json.dumps(document).encode()
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    return client.post(path, content=body, headers=headers, **kwargs)
