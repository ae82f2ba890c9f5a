"""A warm review (every image's tag resolved within ``tag_ttl``, its verdict in memory) is
answered without waiting on the event loop: no task, no suspension, the same answer as the cold
one (the CPU of a warm review is what sets the server's tail under load, bench/README.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from provcheck.admission import ReviewOutcome
from provcheck.admission.gate import Gate
from tests import admission_docs as docs
from tests.gate_support import FAILING, PASSING, Recorder, make_gate
from tests.registry import RealRegistry


def _at_once(gate: Gate, body: bytes) -> ReviewOutcome | None:
    """The outcome when ``gate.review`` finishes without suspending, else ``None``."""
    coroutine = gate.review(body, mutate=True)
    try:
        coroutine.send(None)
    except StopIteration as stop:
        outcome: ReviewOutcome = stop.value
        return outcome
    coroutine.close()
    return None


def _without_duration(outcome: ReviewOutcome) -> dict[str, Any]:
    return {**outcome.log, "duration_ms": None}


def test_a_warm_review_is_answered_without_suspending_and_as_the_cold_one(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    failing = sorted(FAILING)[0]
    tags = [real_registry.ref(case) for case in (*PASSING[:2], failing)]
    pinned = f"{real_registry.ref(PASSING[2]).rsplit(':', 1)[0]}@"
    pinned += real_registry.root_digest(PASSING[2])
    body = docs.body(docs.pod_create([*tags, pinned]))
    allowed = docs.body(docs.pod_create([tags[0], pinned], name="other"))

    async def run() -> None:
        recorder = Recorder()
        gate = make_gate(tmp_path / "cache", observer=recorder, tag_ttl=60)
        try:
            cold = await gate.review(body, mutate=True)
            cold_allowed = await gate.review(allowed, mutate=True)
            lookups = len(recorder.lookups)
            warm = _at_once(gate, body)
            assert warm is not None, "a warm review waited on the event loop"
            assert warm.response == cold.response and warm.decision == cold.decision
            assert _without_duration(warm) == _without_duration(cold)
            again = _at_once(gate, allowed)
            assert again is not None and again.response == cold_allowed.response
            assert again.response["response"]["allowed"] is True  # and patched: tag pinned
            assert "patch" in again.response["response"]
            assert recorder.lookups[lookups:] == [True] * 6  # each image a hit, no request
        finally:
            await gate.aclose()

    asyncio.run(run())
