"""A real ``provcheck serve`` for the tests: a subprocess of ``.venv/bin/provcheck serve`` on a
free loopback port, with a TLS certificate made here (a CA and a server certificate for
127.0.0.1 and localhost, with ``cryptography``), talked to with httpx over TLS trusting the CA
(the ``AdmissionReview`` documents are :mod:`tests.admission_docs`'), and a hung registry."""

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.admission_docs import Doc, body
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
    """A CA, and a server certificate it signed for ``127.0.0.1`` and ``localhost``."""
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
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.argv, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL
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
        """Its stderr so far."""
        return self.log_path.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records so far (every stderr line must be one)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """Kill it if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


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


def with_uid(document: Doc, uid: str) -> Doc:
    """``document`` (an ``AdmissionReview``) with the request ``uid``."""
    document["request"]["uid"] = uid
    return document


def post_review(client: httpx.Client, path: str, document: Doc, **kwargs: Any) -> httpx.Response:
    """POST ``document`` to ``path`` as the API server does (compact JSON)."""
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    return client.post(path, content=body(document), headers=headers, **kwargs)
