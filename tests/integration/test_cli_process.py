"""The installed ``provcheck`` as a process: Ctrl-C during a fetch, stdout closed by its reader.
Nothing may end in a Python traceback or an "Exception ignored" message."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import REAL_DIR

PROVCHECK = Path(sys.executable).parent / "provcheck"
G_REF = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
_F_SETPIPE_SZ = 1031  # Linux fcntl: set a pipe's capacity


def _quiet(err: str) -> None:
    for noise in ("Traceback", "Exception ignored", "BrokenPipeError", "Error"):
        assert noise not in err, err


@pytest.fixture
def silent_registry() -> Iterator[tuple[str, threading.Event]]:
    """A loopback server that accepts connections and never answers; the event is set at the
    first accepted connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = threading.Event()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)
            accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_ctrl_c_during_a_fetch_is_one_line_and_130(
    silent_registry: tuple[str, threading.Event],
) -> None:
    host, accepted = silent_registry
    proc = subprocess.Popen(
        [str(PROVCHECK), "inspect", f"{host}/app:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert accepted.wait(20), "provcheck never connected"
        time.sleep(0.2)  # the request is written and waiting for an answer
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert time.monotonic() - started < 5
    assert (proc.returncode, out, err) == (130, "", "provcheck: interrupted\n")


def _pipe(capacity: int) -> tuple[int, int]:
    read, write = os.pipe()
    fcntl.fcntl(write, _F_SETPIPE_SZ, capacity)
    return read, write


@pytest.mark.parametrize("argv", [["inspect", G_REF, "--format", "sbom"], ["sbom", G_REF]])
def test_a_reader_that_stops_early_ends_it_quietly(argv: list[str]) -> None:
    """``provcheck … | head -1``: the output (26-61 KB) is larger than the pipe (4 KiB)."""
    read, write = _pipe(4096)
    proc = subprocess.Popen([str(PROVCHECK), *argv], stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        first = reader.readline()
    assert first.startswith(b"{")
    _, err = proc.communicate(timeout=30)
    _quiet(err.decode())
    assert err == b""
    # 141 (128 + SIGPIPE) when a write met the closed pipe; 0 when the kernel took the rest
    # before the close
    assert proc.returncode in (0, 141)


def test_a_reader_that_is_gone_ends_it_quietly() -> None:
    """``provcheck … | true``: stdout is closed before anything is written."""
    read, write = _pipe(4096)
    os.close(read)
    proc = subprocess.run(
        [str(PROVCHECK), "inspect", G_REF, "--format", "json"],
        stdout=write,
        stderr=subprocess.PIPE,
        timeout=30,
        check=False,
    )
    os.close(write)
    # what a shell reports for a process killed by SIGPIPE, never 3 (a verification error)
    assert (proc.returncode, proc.stderr) == (141, b"")


def test_the_shell_pipelines_of_the_issue() -> None:
    for pipeline in (
        f"'{PROVCHECK}' inspect '{G_REF}' | true",
        f"'{PROVCHECK}' inspect '{G_REF}' --format sbom | head -1",
    ):
        proc = subprocess.run(
            ["bash", "-c", pipeline], capture_output=True, text=True, timeout=30, check=False
        )
        _quiet(proc.stderr)
        assert proc.stderr == ""


def test_ctrl_c_during_verify_leaves_an_error_report(
    silent_registry: tuple[str, threading.Event], tmp_path: Path
) -> None:
    host, accepted = silent_registry
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: provcheck/v1\nkind: Policy\nname: p\nrules:\n  provenance: {required: true}\n"
    )
    output = tmp_path / "report.json"
    output.write_text('{"verdict": "pass"}\n')  # a stale report of an earlier run
    argv = ["verify", f"{host}/app:1", "--policy", str(policy), "--format", "json"]
    proc = subprocess.Popen(
        [str(PROVCHECK), *argv, "--output", str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert accepted.wait(20), "provcheck never connected"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", "provcheck: interrupted\n")
    report = json.loads(output.read_text())
    assert (report["verdict"], report["error"]) == ("error", "interrupted")
