"""Run Debian's ``docker-registry`` (CNCF distribution 2.8) on loopback for tests.

distribution 2.8 writes two logs: the access log (Apache "combined" format, one line per request,
written just *after* the response) to stdout, and its own logrus log to stderr. We send stdout to
``access.log`` and stderr to ``registry.log`` in the server's work directory.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, NamedTuple

import httpx

from tests.oci_push import push_layout
from tests.paths import REAL_CASES, real_case, recorded_repository, recorded_tag

DOCKER_REGISTRY: Final = Path("/usr/bin/docker-registry")

_LISTENING = re.compile(r'msg="listening on (?P<addr>[0-9.]+:\d+)')
# 127.0.0.1 - - [26/Nov/2026:15:15:35 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"
_ACCESS = re.compile(
    r'^\S+ \S+ (?P<user>\S+) \[[^\]]*\] "(?P<method>[A-Z]+) (?P<target>\S+) [^"]*" '
    r'(?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"'
)
_SYNC_AGENT: Final = "provcheck-tests-sync/"


class RegistryStartError(RuntimeError):
    """The registry process did not come up; the message carries the tail of its log."""


class AccessLogEntry(NamedTuple):
    """One request from the access log; ``path`` is the request target, query string included."""

    method: str
    path: str
    status: int


def parse_access_log_line(line: str) -> AccessLogEntry | None:
    """Parse one combined-format access log line; return None for anything else."""
    match = _ACCESS.match(line)
    if match is None:
        return None
    return AccessLogEntry(match["method"], match["target"], int(match["status"]))


def _user_agent(line: str) -> str:
    match = _ACCESS.match(line)
    return match["agent"] if match else ""


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop ``proc`` if it still runs (SIGTERM, then SIGKILL after 5 s) and wait for it."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class RegistryServer:
    """A ``docker-registry serve`` child process on 127.0.0.1 with a kernel-chosen port.

    The registry binds ``127.0.0.1:0`` itself and we read the real port from its
    ``listening on`` log line, so there is no window in which another process can take the port.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        htpasswd: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        binary: Path = DOCKER_REGISTRY,
        startup_timeout: float = 10.0,
        bind_host: str = "127.0.0.1",
    ) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="registry-")) if workdir is None else workdir
        self.htpasswd = htpasswd
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.binary = binary
        self.startup_timeout = startup_timeout
        # Any loopback address: clients speak HTTPS first on loopback and plain HTTP only to a
        # server that does not speak TLS (as Docker does), so TLS works on 127.0.0.1 too.
        self.bind_host = bind_host
        self.storage_dir = self.workdir / "storage"
        self.config_path = self.workdir / "config.yml"
        self.access_log_path = self.workdir / "access.log"
        self.log_path = self.workdir / "registry.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._addr: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def _config(self) -> dict[str, object]:
        http: dict[str, object] = {
            "addr": f"{self.bind_host}:0",
            "secret": secrets.token_hex(16),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        }
        if self.tls_cert is not None and self.tls_key is not None:
            http["tls"] = {"certificate": str(self.tls_cert), "key": str(self.tls_key)}
        config: dict[str, object] = {
            "version": "0.1",
            # info, not warn: the "listening on" line (our port) and per-request lines are info.
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self.htpasswd is not None:
            config["auth"] = {"htpasswd": {"realm": "provcheck-tests", "path": str(self.htpasswd)}}
        return config

    def start(self) -> RegistryServer:
        """Start the process and wait until ``GET /v2/`` answers.

        Raises:
            FileNotFoundError: the binary is missing.
            RegistryStartError: it exited or did not answer within ``startup_timeout``.
        """
        if self._proc is not None:
            raise RuntimeError("already started")
        if not self.binary.exists():
            raise FileNotFoundError(self.binary)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(exist_ok=True)
        # JSON is YAML: no hand-made YAML quoting.
        self.config_path.write_text(json.dumps(self._config(), indent=2))
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self.access_log_path.open("ab") as out, self.log_path.open("ab") as err:
            self._proc = subprocess.Popen(
                [str(self.binary), "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RegistryStartError(
                    f"docker-registry exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            if self._addr is None:
                match = _LISTENING.search(self.log_path.read_text(errors="replace"))
                self._addr = match["addr"] if match else None
            if self._addr is not None:
                try:
                    response = httpx.get(
                        f"{self.url}/v2/",
                        headers={"User-Agent": f"{_SYNC_AGENT}startup"},
                        verify=False,
                        timeout=1.0,
                    )
                except httpx.TransportError:
                    pass
                else:
                    if response.status_code in (200, 401):
                        return
            time.sleep(0.05)
        raise RegistryStartError(
            f"docker-registry did not answer GET /v2/ within {self.startup_timeout} s:\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s) and wait for it."""
        proc, self._proc = self._proc, None
        stop_process(proc)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RegistryServer:
        return self.start() if self._proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference."""
        if self._addr is None:
            raise RuntimeError("registry not started")
        return self._addr

    @property
    def port(self) -> int:
        """The TCP port."""
        return int(self.host.rsplit(":", 1)[1])

    @property
    def scheme(self) -> str:
        """``https`` with TLS, else ``http``."""
        return "https" if self.tls_cert is not None else "http"

    @property
    def url(self) -> str:
        """Base URL without trailing slash, e.g. ``http://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self.host}"

    # -- logs --------------------------------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the registry's own (stderr) log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _raw_access_lines(self) -> list[str]:
        try:
            return self.access_log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def access_log_lines(self) -> list[AccessLogEntry]:
        """Every request logged so far, oldest first, without our own sync probes.

        The registry writes a line just after it sent the response; use :meth:`mark` and
        :meth:`requests_since` to count a client's requests without racing that write.
        """
        return [
            entry
            for line in self._raw_access_lines()
            if (entry := parse_access_log_line(line)) is not None
            and not _user_agent(line).startswith(_SYNC_AGENT)
        ]

    def mark(self) -> int:
        """A position in the access log (a line count) for :meth:`requests_since`."""
        return len(self._sync())

    def requests_since(self, mark: int) -> list[AccessLogEntry]:
        """Requests logged after ``mark`` (sync probes excluded), once the log has caught up."""
        return [
            entry
            for line in self._sync()[mark:]
            if (entry := parse_access_log_line(line)) is not None
            and not _user_agent(line).startswith(_SYNC_AGENT)
        ]

    def _sync(self, timeout: float = 5.0) -> list[str]:
        """Send a probe with a unique User-Agent and wait until it shows in the access log.

        Requests that completed before the probe was sent are logged by then.
        """
        agent = f"{_SYNC_AGENT}{uuid.uuid4().hex}"
        httpx.get(f"{self.url}/v2/", headers={"User-Agent": agent}, verify=False, timeout=5.0)
        deadline = time.monotonic() + timeout
        while True:
            lines = self._raw_access_lines()
            if any(agent in line for line in reversed(lines)):
                return lines
            if time.monotonic() > deadline:
                raise TimeoutError("sync probe never reached the access log")
            time.sleep(0.01)

    # -- storage-level tampering (for negative tests) --------------------------------------
    def blob_data_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps a blob's bytes (shared by all repositories)."""
        algorithm, hex_ = digest.split(":", 1)
        return self.storage_dir / "docker/registry/v2/blobs" / algorithm / hex_[:2] / hex_ / "data"

    def tamper_blob(self, digest: str, data: bytes) -> None:
        """Overwrite a stored blob's bytes behind the registry's back (it serves them as is).

        This changes the blob in every repository that links it, manifests included.
        """
        path = self.blob_data_path(digest)
        if not path.is_file():
            raise FileNotFoundError(path)
        path.write_bytes(data)


@dataclass(frozen=True, slots=True)
class RealRegistry:
    """A registry holding every real case under its recorded repository and tags."""

    server: RegistryServer
    refs: dict[str, str]  # case -> "127.0.0.1:PORT/lab/<case>:1"
    repositories: dict[str, str]  # case -> "lab/<case>"
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # case -> {tag: digest}

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.server.host

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.url

    def ref(self, case: str, tag: str | None = None) -> str:
        """``127.0.0.1:PORT/<repository>:<tag>`` (default: the recorded tag)."""
        return self.refs[case] if tag is None else f"{self.host}/{self.repositories[case]}:{tag}"

    def root_digest(self, case: str) -> str:
        """The digest the recorded tag points at."""
        return self.digests[case][recorded_tag(case)]


def load_real_cases(server: RegistryServer) -> RealRegistry:
    """Push every case of fixtures/real (all tags of its layout) under its recorded repository."""
    refs: dict[str, str] = {}
    repositories: dict[str, str] = {}
    digests: dict[str, dict[str, str]] = {}
    for case in REAL_CASES:
        repository = recorded_repository(case)
        digests[case] = push_layout(server.url, real_case(case) / "oci-layout", repository)
        repositories[case] = repository
        refs[case] = f"{server.host}/{repository}:{recorded_tag(case)}"
    return RealRegistry(server, refs, repositories, digests)
