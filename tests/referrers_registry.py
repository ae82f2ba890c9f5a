"""Run go-containerregistry's in-memory registry with the OCI 1.1 referrers API on loopback.

Debian's ``docker-registry`` (distribution 2.8) has no referrers API; this one (built from
Debian's ``golang-github-google-go-containerregistry-dev`` by scripts/referrers-registry.sh)
serves ``GET /v2/<name>/referrers/<digest>``: every manifest of the repository whose ``subject``
is that digest. It neither filters by ``artifactType`` nor paginates (both are optional in the
distribution spec), and it takes a descriptor's ``artifactType`` from the manifest's config media
type. Content lives in memory for the life of the process.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final

import httpx

from tests.reference_tools import TOOLS_BIN, skip_or_fail
from tests.registry import stop_process

REFERRERS_REGISTRY: Final = TOOLS_BIN / "referrers-registry"
_LISTENING = re.compile(r"listening on (?P<addr>127\.0\.0\.1:\d+)")
_REQUEST = re.compile(r"^\S+ \S+ (?P<method>[A-Z]+) (?P<path>\S+)")


def require_referrers_registry() -> Path:
    """The binary; skips (locally) or fails (``CI=true``) when scripts/referrers-registry.sh
    has not built it."""
    if REFERRERS_REGISTRY.exists():
        return REFERRERS_REGISTRY
    message = f"{REFERRERS_REGISTRY} is missing: run scripts/referrers-registry.sh"
    skip_or_fail(message)


class ReferrersRegistry:
    """The registry as a child process on 127.0.0.1 and a kernel-chosen port."""

    def __init__(self, binary: Path = REFERRERS_REGISTRY, startup_timeout: float = 10.0) -> None:
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="referrers-registry-"))
        self.log_path = self.workdir / "requests.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._addr: str | None = None

    def start(self) -> ReferrersRegistry:
        """Start it and wait until ``GET /v2/`` answers. Raises RuntimeError when it does not."""
        out = self.workdir / "stdout"
        with out.open("wb") as stdout, self.log_path.open("wb") as stderr:
            self._proc = subprocess.Popen(
                [str(self.binary)],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"referrers-registry exited: {self.log_path.read_text()}")
            match = _LISTENING.search(out.read_text())
            if match is not None:
                self._addr = match["addr"]
                try:
                    if httpx.get(f"{self.url}/v2/", timeout=1.0).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("referrers-registry did not answer GET /v2/")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and wait for it."""
        proc, self._proc = self._proc, None
        stop_process(proc)

    def __enter__(self) -> ReferrersRegistry:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        if self._addr is None:
            raise RuntimeError("not started")
        return self._addr

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request logged so far (the registry logs each one on
        stderr before it answers)."""
        return [
            (m["method"], m["path"])
            for line in self.log_path.read_text(errors="replace").splitlines()
            if (m := _REQUEST.match(line)) is not None
        ]
