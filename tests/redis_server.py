"""Run Debian's ``redis-server`` on loopback for tests: a free port, a temporary folder, no
persistence; killed by PID in teardown."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from tests.reference_tools import skip_or_fail

REDIS_SERVER: Final = Path("/usr/bin/redis-server")


def require_redis_server() -> Path:
    """The binary; skips (locally) or fails (with ``CI=true``) when it is missing."""
    if REDIS_SERVER.exists():
        return REDIS_SERVER
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    message = f"{REDIS_SERVER} is missing (apt-get install redis-server)"
    skip_or_fail(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A ``redis://127.0.0.1:PORT/0`` URL of a server that lives for the block."""
    binary = require_redis_server()
    for _ in range(5):  # another process may take the port between the probe and the bind
        port = _free_port()
        proc = subprocess.Popen(
            [
                str(binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(workdir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--maxmemory",
                "256mb",
                "--maxmemory-policy",
                "allkeys-lru",
            ],
            stdin=subprocess.DEVNULL,
            stdout=(workdir / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None and not _answers(port):
            time.sleep(0.05)
        if proc.poll() is None and _answers(port):
            break
        proc.kill()
        proc.wait()
    else:
        raise RuntimeError(f"redis-server did not start: {(workdir / 'redis.log').read_text()}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
