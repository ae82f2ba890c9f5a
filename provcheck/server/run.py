"""Running the server: uvicorn (httptools, uvloop) on a socket of our own, the gate, warming,
and a graceful stop on SIGTERM or SIGINT.

uvicorn was chosen by measurement (bench/serve_choice.py, bench/README.md): with a bare ASGI
callable it serves ``/healthz`` over TLS at the rate of granian and 4-5 times hypercorn's, and it
runs inside our own event loop, where the gate, its cache and the warming task live.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import uvicorn
import uvloop

from provcheck.errors import UsageError
from provcheck.report.model import Verdict
from provcheck.server.app import AdmissionApp
from provcheck.server.logs import write_record
from provcheck.server.metrics import ServerMetrics

if TYPE_CHECKING:
    from provcheck.admission import Gate
    from provcheck.cache import Cache
    from provcheck.oci.reference import ImageReference
    from provcheck.policy import Policy
    from provcheck.source.registry import CredentialProvider, RegistryOptions

MAX_CONNECTIONS: Final = 512
"""Connections and requests at once; more are answered 503 (the API server then denies)."""
CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 cipher suites: forward secret and authenticated only (TLS 1.3 has its own)."""
SHUTDOWN_GRACE: Final = 2.0
"""Seconds past the budget that in-flight reviews get to finish on shutdown."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``provcheck serve`` runs: where it listens, its TLS files and the gate's settings."""

    policy: Policy
    policy_document: bytes
    cache: Cache
    registry: RegistryOptions
    credentials: CredentialProvider | None
    tls_cert: Path
    tls_key: Path
    host: str = "0.0.0.0"
    port: int = 8443
    budget: float = 8.0
    tag_ttl: float = 5.0
    warm: tuple[str, ...] = ()
    attestations_repository: ImageReference | None = None


class _Server(uvicorn.Server):
    """uvicorn's server, with its signal handlers on the running loop (and no re-raise of the
    signal once stopped): the first SIGTERM or SIGINT stops gracefully, a second SIGINT forces."""

    received: signal.Signals | None = None

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT)
        for sig in handled:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.received = self.received or sig
        self.handle_exit(sig, None)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket. Raises :class:`UsageError` when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _config(app: AdmissionApp, options: ServeOptions) -> uvicorn.Config:
    """uvicorn's configuration, loaded (the TLS files read). Raises :class:`UsageError`."""
    config = uvicorn.Config(
        app,
        loop="none",  # ours: uvloop
        http="httptools",
        ws="none",
        lifespan="off",
        interface="asgi3",
        ssl_certfile=str(options.tls_cert),
        ssl_keyfile=str(options.tls_key),
        ssl_ciphers=CIPHERS,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=int(options.budget + SHUTDOWN_GRACE) + 1,
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,
    )
    try:
        config.load()
    except (OSError, ssl.SSLError) as exc:
        files = f"--tls-cert {options.tls_cert} / --tls-key {options.tls_key}"
        raise UsageError(f"{files}: cannot load: {exc.strerror or exc}") from exc
    assert config.ssl is not None, "TLS files were given"
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    return config


def serve(options: ServeOptions) -> signal.Signals | None:
    """Serve until SIGTERM or SIGINT; return the signal that stopped it. Raises
    :class:`UsageError` for TLS files that cannot be loaded or an address that cannot be had."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_serve(options))


async def _serve(options: ServeOptions) -> signal.Signals | None:
    from provcheck.admission.gate import Gate

    metrics = ServerMetrics()
    gate = Gate(
        options.policy,
        options.policy_document,
        options.cache,
        registry=options.registry,
        budget=options.budget,
        tag_ttl=options.tag_ttl,
        observer=metrics,
        credentials=options.credentials,
        attestations_repository=options.attestations_repository,
    )
    try:
        app = AdmissionApp(gate, metrics, write_record)
        server = _Server(_config(app, options))
        sock = _listen(options.host, options.port)
        write_record({"event": "listening", "address": f"https://{options.host}:{options.port}"})
        warming = asyncio.create_task(_warm(gate, app, options.warm))
        try:
            await server.serve(sockets=[sock])
        finally:
            warming.cancel()
            sock.close()
    finally:
        await gate.aclose()
        await options.cache.aclose()
    write_record({"event": "stopped", "signal": server.received.name if server.received else None})
    return server.received


async def _warm(gate: Gate, app: AdmissionApp, references: Sequence[str]) -> None:
    """Fill the cache with ``references``, then turn ready."""
    if references:
        try:
            summary = await gate.warm(references)
        except Exception as exc:  # a bug: stay not ready, and say why
            write_record({"event": "warm-failed", "error": type(exc).__name__})
            return
        counts = {str(verdict): summary.count(verdict) for verdict in Verdict}
        write_record({"event": "warmed", "images": len(summary.results), **counts})
    app.ready = True
    write_record({"event": "ready"})
