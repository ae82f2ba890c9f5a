"""A long-lived Gate asked about many distinct tags: every per-key map it and its registry client
hold stays within its bound, and a tag that was forgotten is resolved again (not answered from a
stale memory)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from provcheck.admission import Decision
from provcheck.admission import gate as gate_module
from provcheck.source.registry import client as client_module
from tests import admission_docs as docs
from tests.gate_support import Recorder, make_gate
from tests.oci_push import push_layout, push_manifest
from tests.paths import real_case, recorded_tag
from tests.registry import RealRegistry

BOUND = 4
TAGS = 24


def _root(case: str) -> tuple[bytes, str]:
    """The recorded tag's root manifest of a real case and its media type."""
    layout = real_case(case) / "oci-layout"
    index = json.loads((layout / "index.json").read_text())
    tag = recorded_tag(case)
    for entry in index["manifests"]:
        if (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
            algorithm, hexdigest = str(entry["digest"]).split(":", 1)
            body = (layout / "blobs" / algorithm / hexdigest).read_bytes()
            return body, str(entry["mediaType"])
    raise AssertionError(f"{case}: no {tag} in index.json")


def test_many_distinct_tags_keep_the_gate_bounded_and_a_forgotten_tag_is_resolved_again(
    real_registry: RealRegistry,
    tmp_path: Path,
    unique_repository: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module, name in (
        (client_module, "MAX_HEADS"),
        (gate_module, "MAX_TAGS"),
        (gate_module, "MAX_MEMO"),
    ):
        monkeypatch.setattr(module, name, BOUND)
    url = real_registry.url
    push_layout(url, real_case("b-multi-max") / "oci-layout", unique_repository, tags=[])
    push_layout(url, real_case("c-secrets-max") / "oci-layout", unique_repository, tags=[])
    good, good_type = _root("b-multi-max")
    bad, bad_type = _root("c-secrets-max")
    for n in range(TAGS):
        push_manifest(url, unique_repository, f"t{n}", good, good_type)
    image = f"{real_registry.host}/{unique_repository}"
    recorder = Recorder()

    async def run() -> list[tuple[Decision, int]]:
        gate = make_gate(tmp_path / "cache", observer=recorder, tag_ttl=3600.0)
        answers: list[tuple[Decision, int]] = []

        async def ask(tag: str) -> None:
            before = len(recorder.requests)
            outcome = await gate.review(
                docs.body(docs.pod_create([f"{image}:{tag}"])), mutate=False
            )
            answers.append((outcome.decision, len(recorder.requests) - before))

        try:
            for n in range(TAGS):
                await ask(f"t{n}")
                assert len(gate._client._heads) <= BOUND
                assert len(gate._heads._kept) <= BOUND
                assert len(gate._memo) <= BOUND
            assert len(gate._heads) == 0 and len(gate._verifications) == 0  # nothing in flight
            await ask(f"t{TAGS - 1}")  # still remembered: no request
            push_manifest(url, unique_repository, "t0", bad, bad_type)  # t0 moves
            await ask("t0")  # forgotten long ago: resolved again, so the move is seen
        finally:
            await gate.aclose()
        return answers

    answers = asyncio.run(run())
    assert all(decision is Decision.ALLOWED for decision, _ in answers[:TAGS])
    assert all(requests >= 1 for _, requests in answers[1:TAGS])  # one HEAD per new tag
    assert answers[TAGS] == (Decision.ALLOWED, 0)
    assert answers[TAGS + 1][0] is Decision.DENIED and answers[TAGS + 1][1] >= 1
