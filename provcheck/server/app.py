"""The ASGI application of ``provcheck serve``: a bare ASGI callable, no framework.

``POST /validate`` and ``POST /mutate`` take an ``admission.k8s.io/v1`` ``AdmissionReview``
(``application/json``, at most :data:`MAX_BODY_BYTES`, as the API server caps requests; reading
stops past the cap) and answer the gate's ``AdmissionReview``; a body that is not one is a 400
with a one-line reason, and the server goes on. ``GET /healthz`` (alive), ``/readyz`` (the cache
warmed, the gate open) and ``/metrics`` (Prometheus text format). Other paths are 404, other
methods 405. Each review writes one JSON log record (the gate's, plus the path); request headers
are never read beyond ``Content-Type`` and ``Content-Length``, nor logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from provcheck.admission.review import MAX_REVIEW_BYTES as MAX_BODY_BYTES
from provcheck.errors import AdmissionRequestError
from provcheck.report.escape import escape_text
from provcheck.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from provcheck.server.metrics import ServerMetrics

if TYPE_CHECKING:
    from provcheck.admission import ReviewOutcome

MAX_REASON: Final = 300
"""Longest reason in a 400 answer (characters)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
LogSink = Callable[[Mapping[str, Any]], None]

REVIEW_PATHS: Final = {"/validate": False, "/mutate": True}
"""The review endpoints, and whether each mutates."""
_TEXT: Final = b"text/plain; charset=utf-8"
_JSON: Final = b"application/json"


class Reviewer(Protocol):
    """What answers reviews (:class:`provcheck.admission.Gate`)."""

    async def review(self, body: bytes, *, mutate: bool) -> ReviewOutcome:
        """The answer to the ``AdmissionReview`` ``body``. Raises
        :class:`~provcheck.errors.AdmissionRequestError` when it is not one."""
        ...


# Private control flow (raised by _body, caught in _review, never escape): not in errors.py.
class _Rejected(Exception):
    """A request answered with an HTTP error before any review."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Disconnected(Exception):
    """The client went away before its body was read."""


class AdmissionApp:
    """The ASGI callable. A body that is not an ``AdmissionReview`` is a 400; any exception
    from ``reviewer`` other than :class:`AdmissionRequestError` is a 500 (the API server's
    ``failurePolicy: Fail`` then denies). ``ready`` is set by the runner."""

    def __init__(
        self,
        reviewer: Reviewer,
        metrics: ServerMetrics,
        log: LogSink,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._reviewer = reviewer
        self._metrics = metrics
        self._log = log
        self._clock = clock
        self.ready = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets; lifespan is off
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path in REVIEW_PATHS:
            if method != "POST":
                await _answer(send, 405, b"only POST\n", _TEXT, [(b"allow", b"POST")])
                return
            await self._review(scope, receive, send, path)
            return
        if path not in ("/healthz", "/readyz", "/metrics"):
            await _answer(send, 404, b"not found\n", _TEXT)
        elif method != "GET":
            await _answer(send, 405, b"only GET\n", _TEXT, [(b"allow", b"GET")])
        elif path == "/healthz":
            await _answer(send, 200, b"ok\n", _TEXT)
        elif path == "/readyz":
            ready = self.ready
            await _answer(
                send, 200 if ready else 503, b"ready\n" if ready else b"not ready\n", _TEXT
            )
        else:
            await _answer(send, 200, self._metrics.exposition(), METRICS_CONTENT_TYPE.encode())

    async def _review(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        start = self._clock()
        try:
            body = await _body(scope, receive)
            outcome = await self._reviewer.review(body, mutate=REVIEW_PATHS[path])
        except _Disconnected:
            return
        except _Rejected as rejected:
            self._rejected(path, rejected.status)
            reason = f"{rejected.reason}\n".encode()
            # the rest of an over-long body is not read: the connection cannot be reused
            await _answer(send, rejected.status, reason, _TEXT, [(b"connection", b"close")])
            return
        except AdmissionRequestError as exc:
            self._rejected(path, 400)
            why = escape_text(exc.diagnostics())[:MAX_REASON]
            await _answer(send, 400, f"not an AdmissionReview: {why}\n".encode(), _TEXT)
            return
        except Exception as exc:  # a bug: no answer that could allow (failurePolicy: Fail denies)
            self._rejected(path, 500, type(exc).__name__)
            await _answer(send, 500, b"internal error: not reviewed\n", _TEXT)
            return
        payload = json.dumps(outcome.response, separators=(",", ":")).encode()
        self._metrics.review(path, str(outcome.decision), self._clock() - start)
        self._log({**outcome.log, "path": path})  # before the answer: a client sees it logged
        await _answer(send, 200, payload, _JSON)

    def _rejected(self, path: str, status: int, error: str | None = None) -> None:
        """Count and log a request answered with an HTTP error (its body is not logged)."""
        self._metrics.rejected(path, status)
        record: dict[str, Any] = {"event": "rejected", "path": path, "status": status}
        if error is not None:
            record["error"] = error
        self._log(record)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _media_type(value: bytes | None) -> str:
    return (value or b"").split(b";", 1)[0].strip().lower().decode("latin-1")


async def _body(scope: Scope, receive: Receive) -> bytes:
    """The request body, read up to :data:`MAX_BODY_BYTES`. Raises :class:`_Rejected` for a
    media type other than JSON or a larger body (announced or sent), :class:`_Disconnected`."""
    if _media_type(_header(scope, b"content-type")) != "application/json":
        raise _Rejected(415, "Content-Type must be application/json")
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Rejected(400, f"request body larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Rejected(400, f"request body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})
