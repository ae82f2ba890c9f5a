"""One deadline per command: real servers on loopback that never answer, or answer 503 with a long
Retry-After, and the real CLI in a subprocess, timed."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from provcheck.api import inspect_image, inspect_image_async
from provcheck.cli import main
from provcheck.errors import DeadlineExceededError, RegistryConnectionError, UsageError
from provcheck.source.registry import RegistryClient, RegistryOptions

POLICY = Path(__file__).parents[2] / "policies" / "baseline.yaml"
MARGIN = 1.5  # seconds over budget + start-up for the end of a command (2 shared cores)


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte; records closed connections."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        self.closed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        conn, _ = sock.accept()
                        conn.setblocking(False)
                        self.accepted += 1
                        selector.register(conn, selectors.EVENT_READ)
                    elif not sock.recv(65536):  # read (and ignore) what is sent; b"" is EOF
                        selector.unregister(sock)
                        sock.close()
                        self.closed += 1
            for key in list(selector.get_map().values()):
                if key.fileobj is not self._listener:
                    key.fileobj.close()  # type: ignore[union-attr]

    def wait_all_closed(self, timeout: float = 3.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.accepted and self.closed == self.accepted:
                return True
            time.sleep(0.02)
        return False

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "docker"
    config.mkdir()
    return {**os.environ, "DOCKER_CONFIG": str(config)}


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "provcheck", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def _start_up(command: list[str], env: dict[str, str]) -> float:
    """Seconds the command takes without any network work (a layout that does not exist):
    the Python start, imports and policy loading that the budget does not cover."""
    code, _, _, elapsed = _cli([*command, "oci-layout:///nonexistent/layout"], env)
    assert code == 2
    return elapsed


@pytest.mark.parametrize(
    "command",
    [
        ["inspect"],
        ["inspect", "--format", "provenance"],
        ["sbom"],
        ["verify", "--policy", str(POLICY)],
    ],
)
def test_a_registry_that_never_answers_ends_within_the_budget(
    silent: SilentServer, env: dict[str, str], command: list[str]
) -> None:
    start_up = _start_up(command, env)
    code, out, err, elapsed = _cli([*command, f"{silent.host}/x/y:1", "--timeout", "2"], env)
    assert elapsed < start_up + 2 + MARGIN, (start_up, elapsed, err)
    assert (code, out) == (3, "")
    assert err == (
        f"provcheck: error: deadline of 2 s exceeded waiting for {silent.host} (GET manifest 1)\n"
    )
    assert silent.accepted >= 1
    assert silent.wait_all_closed()


def test_a_long_retry_after_is_not_waited_for(httpserver: HTTPServer, env: dict[str, str]) -> None:
    httpserver.expect_request("/v2/x/y/manifests/1").respond_with_data(
        "busy", status=503, headers={"Retry-After": "120"}
    )
    host = f"127.0.0.1:{httpserver.port}"
    start_up = _start_up(["inspect"], env)
    code, out, err, elapsed = _cli(["inspect", f"{host}/x/y:1", "--timeout", "2"], env)
    assert elapsed < start_up + MARGIN, (start_up, elapsed, err)  # no wait at all
    assert (code, out) == (3, "")
    assert err.startswith("provcheck: error: ") and err.count("\n") == 1
    assert "HTTP 503" in err and "would pass the deadline of 2 s" in err
    assert "Traceback" not in err
    assert len(httpserver.log) == 1  # the retry that could not fit was not started


def test_each_retry_is_logged_before_its_wait(httpserver: HTTPServer, env: dict[str, str]) -> None:
    httpserver.expect_request("/v2/x/y/manifests/1").respond_with_data(
        "busy", status=503, headers={"Retry-After": "1"}
    )
    host = f"127.0.0.1:{httpserver.port}"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "provcheck", "-v", "inspect", f"{host}/x/y:1", "--timeout", "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    arrivals: list[tuple[float, str]] = [
        (time.monotonic() - started, line) for line in process.stderr
    ]
    process.wait(30)
    retries = [(when, line) for when, line in arrivals if "retrying" in line]
    assert [line.split(" after ")[0].rsplit(" in ", 1)[1] for _, line in retries] == ["1.0 s"] * 3
    assert all("HTTP 503 with Retry-After" in line for _, line in retries)
    assert [line.strip().rsplit("(", 1)[1] for _, line in retries] == [
        "try 2 of 4)",
        "try 3 of 4)",
        "try 4 of 4)",
    ]
    # Shown as they happen: a second apart, each before the wait it announces.
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(retries)]
    assert all(gap > 0.7 for gap in gaps), arrivals
    assert arrivals[-1][0] - retries[0][0] > 2.5
    assert process.returncode == 3
    assert arrivals[-1][1].startswith("provcheck: error: ") and "HTTP 503" in arrivals[-1][1]


def test_library_deadline_cancels_cleanly_own_client(silent: SilentServer, tmp_path: Path) -> None:
    options = RegistryOptions(docker_config_dir=tmp_path)

    async def run() -> None:
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExceededError) as info:
            await inspect_image_async(f"{silent.host}/x/y:1", registry=options, timeout=1)
        assert asyncio.get_running_loop().time() - started < 1.5
        assert (info.value.host, info.value.pending, info.value.seconds) == (
            silent.host,
            "GET manifest 1",
            1.0,
        )
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(run())
    assert silent.wait_all_closed()


def test_a_silent_tls_handshake_is_a_timeout_not_a_certificate_problem(
    silent: SilentServer, tmp_path: Path
) -> None:
    """Loopback gets HTTPS first; a server that accepts and never answers times the TLS
    handshake out. That is retried like any connect timeout, and never reported as a TLS
    failure with a hint to install a CA."""
    options = RegistryOptions(docker_config_dir=tmp_path, connect_timeout=0.3, max_retries=1)
    with pytest.raises(RegistryConnectionError) as info:
        inspect_image(f"{silent.host}/x/y:1", registry=options, timeout=30)
    message = info.value.diagnostics()
    assert "ConnectTimeout: no answer in time (after 2 tries)" in message, message
    assert "TLS" not in message and "--ca-file" not in message
    assert silent.wait_all_closed()


def test_library_deadline_with_a_shared_client(silent: SilentServer, tmp_path: Path) -> None:
    """The deadline cancels this call's requests and closes their connections; the shared
    client stays usable for other calls."""
    options = RegistryOptions(docker_config_dir=tmp_path)

    async def run() -> None:
        async with RegistryClient(options) as client:
            calls = [
                inspect_image_async(f"{silent.host}/x/{n}:1", client=client, timeout=0.5 + n / 10)
                for n in range(4)
            ]
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(r, DeadlineExceededError) for r in results), results
            assert asyncio.all_tasks() == {asyncio.current_task()}
            assert await asyncio.to_thread(silent.wait_all_closed)
            with pytest.raises(DeadlineExceededError, match=r"\(GET manifest 2\)"):
                await inspect_image_async(f"{silent.host}/x/y:2", client=client, timeout=0.3)

    asyncio.run(run())


def test_a_token_server_that_never_answers_is_named(
    httpserver: HTTPServer, silent: SilentServer, tmp_path: Path
) -> None:
    challenge = f'Bearer realm="http://{silent.host}/token",service="reg"'
    httpserver.expect_request("/v2/x/y/manifests/1").respond_with_data(
        "", status=401, headers={"WWW-Authenticate": challenge}
    )
    options = RegistryOptions(docker_config_dir=tmp_path)
    with pytest.raises(DeadlineExceededError) as info:
        inspect_image(f"127.0.0.1:{httpserver.port}/x/y:1", registry=options, timeout=1)
    assert str(info.value) == (
        f"deadline of 1 s exceeded waiting for {silent.host} (token for repository:x/y:pull)"
    )


def test_a_credential_helper_that_hangs_is_killed(
    httpserver: HTTPServer, tmp_path: Path, env: dict[str, str]
) -> None:
    httpserver.expect_request("/v2/x/y/manifests/1").respond_with_data(
        "", status=401, headers={"WWW-Authenticate": 'Basic realm="reg"'}
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pid_file = tmp_path / "helper.pid"
    helper = bin_dir / "docker-credential-hang"
    helper.write_text(
        f"#!{sys.executable}\n"
        "import os, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    helper.chmod(0o755)
    Path(env["DOCKER_CONFIG"], "config.json").write_text('{"credsStore": "hang"}')
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    host = f"127.0.0.1:{httpserver.port}"
    start_up = _start_up(["inspect"], env)
    code, _, err, elapsed = _cli(["inspect", f"{host}/x/y:1", "--timeout", "2"], env)
    assert elapsed < start_up + 2 + MARGIN, (start_up, elapsed, err)
    assert code == 3 and err.count("\n") == 1 and "deadline of 2 s exceeded" in err
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not left running


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400", "-1", "0", "-0", "x", ""])
@pytest.mark.parametrize("reference", ["127.0.0.1:9/x/y:1", "oci-layout:///nonexistent/layout"])
def test_invalid_timeouts_are_usage_errors(
    value: str, reference: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["inspect", reference, f"--timeout={value}"])
    _, err = capsys.readouterr()
    assert code == 2
    # the library's own message (check_timeout), for text that is no number too
    assert err.startswith("provcheck inspect: error: argument --timeout: invalid timeout ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0, True])
def test_invalid_library_timeouts_are_usage_errors(value: float) -> None:
    with pytest.raises(UsageError, match="invalid timeout"):
        inspect_image("oci-layout:///nonexistent/layout", timeout=value)
