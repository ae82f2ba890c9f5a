"""Which ASGI server and framework for ``provcheck serve``: import cost and ``/healthz`` over TLS.

Each candidate (a server, with a bare ASGI callable or a Starlette app answering ``GET /healthz``)
is started on a free loopback port with a TLS certificate made here (trustme), loaded with
``wrk`` (Debian's package: 2 threads, 16 connections, keep-alive) for ``--seconds``, ``--runs``
times in rotation; the table gives the median requests/s and the p99 latency wrk reports, and
the median cold import cost of what the candidate loads (``python -c 'import …'`` minus
``python -c pass``). wrk runs on the same 2 cores as the server: the figures are what one
process gets next to its load, as on a loaded node.

    .venv/bin/python bench/serve_choice.py [--python PYTHON] [--runs 3] [--seconds 8]

``--python`` is the interpreter whose site-packages hold the candidates (candidates that do not
import there are skipped).
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NamedTuple

import trustme

ROOT = Path(__file__).resolve().parents[1]

APP: Final = """
async def bare(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/healthz" and scope["method"] == "GET":
        status, body = 200, b"ok\\n"
    else:
        status, body = 404, b"not found\\n"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _starlette():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def healthz(request):
        return PlainTextResponse("ok\\n")

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])


star = _starlette() if __import__("importlib.util").util.find_spec("starlette") else None
"""


class Candidate(NamedTuple):
    name: str
    imports: str  # what it loads, for the import cost
    argv: tuple[str, ...]  # {py} {port} {cert} {key} {app} are filled in


CANDIDATES: Final = (
    Candidate(
        "uvicorn httptools+uvloop, bare ASGI",
        "import uvicorn, uvicorn.protocols.http.httptools_impl, uvloop, ssl",
        (
            "{py}", "-m", "uvicorn", "app:bare", "--host", "127.0.0.1", "--port", "{port}",
            "--ssl-certfile", "{cert}", "--ssl-keyfile", "{key}", "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning", "--lifespan", "on",
        ),
    ),
    Candidate(
        "uvicorn httptools+uvloop, Starlette",
        "import uvicorn, uvicorn.protocols.http.httptools_impl, uvloop, ssl,"
        " starlette.applications, starlette.routing, starlette.responses",
        (
            "{py}", "-m", "uvicorn", "app:star", "--host", "127.0.0.1", "--port", "{port}",
            "--ssl-certfile", "{cert}", "--ssl-keyfile", "{key}", "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ),
    ),
    Candidate(
        "uvicorn h11+asyncio, bare ASGI",
        "import uvicorn, uvicorn.protocols.http.h11_impl, ssl",
        (
            "{py}", "-m", "uvicorn", "app:bare", "--host", "127.0.0.1", "--port", "{port}",
            "--ssl-certfile", "{cert}", "--ssl-keyfile", "{key}", "--loop", "asyncio",
            "--http", "h11", "--no-access-log", "--log-level", "warning",
        ),
    ),
    Candidate(
        "hypercorn asyncio, bare ASGI",
        "import hypercorn.asyncio, hypercorn.config, ssl",
        (
            "{py}", "-m", "hypercorn", "app:bare", "--bind", "127.0.0.1:{port}",
            "--certfile", "{cert}", "--keyfile", "{key}", "--log-level", "warning",
        ),
    ),
    Candidate(
        "hypercorn uvloop, bare ASGI",
        "import hypercorn.asyncio, hypercorn.config, uvloop, ssl",
        (
            "{py}", "-m", "hypercorn", "app:bare", "--bind", "127.0.0.1:{port}", "-k", "uvloop",
            "--certfile", "{cert}", "--keyfile", "{key}", "--log-level", "warning",
        ),
    ),
    Candidate(
        "granian (Rust), bare ASGI",
        "import granian, granian.server",
        (
            "{py}", "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
            "--port", "{port}", "--ssl-certificate", "{cert}", "--ssl-keyfile", "{key}",
            "--workers", "1", "--no-ws", "--log-level", "warning", "app:bare",
        ),
    ),
)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], limit: float = 20.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen in time")


def _import_ms(python: str, statement: str, runs: int) -> float:
    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - start

    base = statistics.median(once("pass") for _ in range(runs))
    loaded = statistics.median(once(statement) for _ in range(runs))
    return (loaded - base) * 1000


_LATENCY = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)


def _wrk(port: int, seconds: int) -> tuple[float, float]:
    """Requests/s and the p99 latency in ms of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", f"https://127.0.0.1:{port}/healthz"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate, latency = _RATE.search(out), _LATENCY.search(out)
    if rate is None or latency is None or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk: unexpected output\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[latency.group(2)]
    return float(rate.group(1)), float(latency.group(1)) * scale


def _available(python: str, candidate: Candidate) -> bool:
    probe = subprocess.run([python, "-c", candidate.imports], capture_output=True)
    return probe.returncode == 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    candidates = [c for c in CANDIDATES if _available(args.python, c)]
    skipped = [c.name for c in CANDIDATES if c not in candidates]
    if skipped:
        print(f"skipped (not importable): {', '.join(skipped)}", file=sys.stderr)
    rates: dict[str, list[float]] = {c.name: [] for c in candidates}
    p99s: dict[str, list[float]] = {c.name: [] for c in candidates}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "app.py").write_text(APP)
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        cert, key = folder / "cert.pem", folder / "key.pem"
        leaf.private_key_pem.write_to_path(str(key))
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        for run in range(args.runs):
            for candidate in candidates:
                port = _free_port()
                fill = {"py": args.python, "port": str(port), "cert": str(cert), "key": str(key)}
                command = [part.format(**fill) for part in candidate.argv]
                process = subprocess.Popen(command, cwd=folder, stderr=subprocess.DEVNULL)
                try:
                    _wait_listening(port, process)
                    _wrk(port, 1)  # warm-up: TLS sessions, caches
                    rate, p99 = _wrk(port, args.seconds)
                finally:
                    process.terminate()
                    process.wait(10)
                rates[candidate.name].append(rate)
                p99s[candidate.name].append(p99)
                print(f"run {run + 1} {candidate.name}: {rate:.0f} req/s, p99 {p99:.2f} ms")
    print("\n| server, app | import (ms) | /healthz req/s (median) | p99 (ms) |")
    print("| --- | --- | --- | --- |")
    for candidate in candidates:
        cost = _import_ms(args.python, candidate.imports, 7)
        rate = statistics.median(rates[candidate.name])
        p99 = statistics.median(p99s[candidate.name])
        print(f"| {candidate.name} | {cost:.0f} | {rate:.0f} | {p99:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
