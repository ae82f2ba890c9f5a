"""The ASGI application with a reviewer that fails in a way the real gate cannot be made to:
a bug is a 500 (never an answer that could allow), logged by its type only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from provcheck.admission import ReviewOutcome
from provcheck.server.app import AdmissionApp, Message
from provcheck.server.metrics import ServerMetrics


class _Broken:
    async def review(self, body: bytes, *, mutate: bool) -> ReviewOutcome:
        raise RuntimeError("FAKE-detail-of-a-bug")


def _call(app: AdmissionApp, body: bytes) -> list[Message]:
    sent: list[Message] = []
    messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/validate",
        "headers": [(b"content-type", b"application/json; charset=utf-8")],
    }
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_reviewer_bug_is_a_500_logged_by_type_only() -> None:
    logged: list[Mapping[str, Any]] = []
    metrics = ServerMetrics()
    app = AdmissionApp(_Broken(), metrics, logged.append)
    start, body = _call(app, json.dumps({"apiVersion": "admission.k8s.io/v1"}).encode())
    assert start["status"] == 500
    assert b"allowed" not in body["body"]
    assert logged == [
        {"event": "rejected", "path": "/validate", "status": 500, "error": "RuntimeError"}
    ]
    exposition = metrics.exposition().decode()
    assert 'provcheck_admission_rejected_requests_total{path="/validate",status="500"} 1.0' in (
        exposition
    )
    assert "FAKE" not in exposition
