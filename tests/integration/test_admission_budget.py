"""The Gate's budget and sharing, against real servers on loopback: a registry that never answers
does not hold a review past its budget; a slow first-seen image is denied "not verified in time"
and finished in the background, so the retry is allowed at once; concurrent reviews of one image
share one verification (counted in the registry's access log); background work is bounded and
ended by ``aclose``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provcheck.admission import Decision, Gate, ReviewOutcome
from provcheck.source.registry import RegistryOptions
from tests import admission_docs as docs
from tests.gate_support import Recorder, make_gate
from tests.integration.test_registry_deadline import SilentServer
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RealRegistry
from tests.tcp_proxy import TcpProxy

MARGIN = 1.5
"""Seconds a review may end after its budget on 2 shared cores (the event loop's latency)."""


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


async def _until(condition: object, timeout: float) -> None:
    assert callable(condition)
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        await asyncio.sleep(0.02)


def test_a_registry_that_never_answers_does_not_hold_a_review_past_its_budget(
    silent: SilentServer, tmp_path: Path
) -> None:
    recorder = Recorder()
    image = f"{silent.host}/lab/hangs:1"

    async def run() -> tuple[ReviewOutcome, float, int]:
        gate = make_gate(tmp_path / "cache", observer=recorder, budget=1.0)
        try:
            started = time.monotonic()
            outcome = await gate.review(docs.body(docs.pod_create([image])), mutate=True)
            elapsed = time.monotonic() - started
            return outcome, elapsed, gate.background
        finally:
            await gate.aclose()
            assert gate.background == 0  # aclose cancelled the background verification

    outcome, elapsed, background = asyncio.run(run())
    assert 1.0 <= elapsed < 1.0 + MARGIN
    inner = outcome.response["response"]
    assert inner["allowed"] is False and "patch" not in inner
    assert f"{image}: not verified in time (budget 1 s)" in inner["status"]["message"]
    assert outcome.log["images"][0]["verdict"] == "late"
    assert recorder.overruns == 1 and background == 1
    assert silent.wait_all_closed()  # nothing left connected after aclose


def test_late_verifications_beyond_the_bound_are_cancelled(
    silent: SilentServer, tmp_path: Path
) -> None:
    images = [f"{silent.host}/lab/hangs-{i}:1" for i in range(3)]

    async def run() -> tuple[ReviewOutcome, int]:
        gate = make_gate(tmp_path / "cache", budget=0.5, max_background=1)
        try:
            outcome = await gate.review(docs.body(docs.pod_create(images)), mutate=False)
            return outcome, gate.background
        finally:
            await gate.aclose()

    outcome, background = asyncio.run(run())
    assert outcome.decision is Decision.DENIED and background == 1
    assert [i["verdict"] for i in outcome.log["images"]] == ["late"] * 3


def test_a_slow_first_seen_image_is_denied_in_time_then_allowed_warm(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    host, port = real_registry.host.split(":")
    repository = real_registry.repositories["g-sbom-generator"]
    recorder = Recorder()
    with TcpProxy((host, int(port)), delay=0.3) as proxy:
        image = f"{proxy.host}/{repository}:1"
        body = docs.body(docs.pod_create([image]))

        async def run() -> tuple[ReviewOutcome, ReviewOutcome, float, int]:
            gate = make_gate(tmp_path / "cache", observer=recorder, budget=1.0, tag_ttl=120)
            try:
                first = await gate.review(body, mutate=True)
                await _until(lambda: gate.background == 0, 90)
                assert gate.background == 0
                before = len(recorder.requests)
                started = time.monotonic()
                second = await gate.review(body, mutate=True)
                elapsed = time.monotonic() - started
                return first, second, elapsed, len(recorder.requests) - before
            finally:
                await gate.aclose()

        first, second, elapsed, requests = asyncio.run(run())
    assert first.decision is Decision.DENIED
    assert "not verified in time" in first.response["response"]["status"]["message"]
    assert recorder.overruns == 1
    assert second.decision is Decision.ALLOWED and elapsed < 1.0
    assert requests == 0  # the tag within its TTL, the verdict from the cache
    assert second.log["images"][0]["digest"] == real_registry.root_digest("g-sbom-generator")
    assert "patch" in second.response["response"]


def test_concurrent_reviews_of_one_image_share_one_verification(
    real_registry: RealRegistry, tmp_path: Path, unique_repository: str
) -> None:
    push_layout(real_registry.url, REAL_DIR / "b-multi-max" / "oci-layout", unique_repository)
    image = f"{real_registry.host}/{unique_repository}:1"
    digest = real_registry.root_digest("b-multi-max")
    recorder = Recorder()

    async def run() -> list[ReviewOutcome]:
        gate = make_gate(tmp_path / "cache", observer=recorder)
        try:
            bodies = [docs.body(docs.pod_create([image], name=f"web-{i}")) for i in range(8)]
            return await asyncio.gather(*(gate.review(b, mutate=False) for b in bodies))
        finally:
            await gate.aclose()

    mark = real_registry.server.mark()
    outcomes = asyncio.run(run())
    assert [o.decision for o in outcomes] == [Decision.ALLOWED] * 8
    seen = [
        (e.method, e.path)
        for e in real_registry.server.requests_since(mark)
        if e.path.startswith(f"/v2/{unique_repository}/")
    ]
    assert seen.count(("HEAD", f"/v2/{unique_repository}/manifests/1")) == 1
    assert seen.count(("GET", f"/v2/{unique_repository}/manifests/{digest}")) == 1
    assert ("GET", f"/v2/{unique_repository}/manifests/1") not in seen  # resolved by HEAD only
    assert len(seen) == len(set(seen))  # nothing fetched twice
    assert recorder.lookups == [False]  # one verification, one verdict lookup


def test_a_tag_is_resolved_again_after_its_ttl(
    real_registry: RealRegistry, tmp_path: Path, unique_repository: str
) -> None:
    push_layout(real_registry.url, REAL_DIR / "b-multi-max" / "oci-layout", unique_repository)
    body = docs.body(docs.pod_create([f"{real_registry.host}/{unique_repository}:1"]))
    head = ("HEAD", f"/v2/{unique_repository}/manifests/1")

    async def run(gate: Gate) -> list[int]:
        heads = []
        try:
            for pause in (0.0, 0.0, 1.2):
                await asyncio.sleep(pause)
                mark = real_registry.server.mark()
                assert (await gate.review(body, mutate=False)).decision is Decision.ALLOWED
                entries = real_registry.server.requests_since(mark)
                heads.append([(e.method, e.path) for e in entries].count(head))
        finally:
            await gate.aclose()
        return heads

    gate = make_gate(tmp_path / "cache", tag_ttl=1.0, registry=RegistryOptions())
    assert asyncio.run(run(gate)) == [1, 0, 1]


def test_a_review_naming_too_many_images_is_denied_without_a_request(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    """A Pod of MAX_IMAGES + 1 distinct images (a hostile user's fan-out of registry requests)
    is denied whole and makes no registry request; the gate still answers the next review."""
    from provcheck.admission.gate import MAX_IMAGES

    images = [real_registry.ref("b-multi-max", f"t{i}") for i in range(MAX_IMAGES + 1)]
    mark = real_registry.server.mark()

    async def run() -> tuple[ReviewOutcome, ReviewOutcome]:
        gate = make_gate(tmp_path / "cache")
        try:
            many = await gate.review(docs.body(docs.pod_create(images)), mutate=True)
            one = docs.pod_create([real_registry.ref("b-multi-max")])
            return many, await gate.review(docs.body(one), mutate=True)
        finally:
            await gate.aclose()

    many, one = asyncio.run(run())
    assert many.decision is Decision.DENIED and "patch" not in many.response["response"]
    assert {i["verdict"] for i in many.log["images"]} == {"error"}
    assert (
        f"names {MAX_IMAGES + 1} images, over {MAX_IMAGES}"
        in (many.response["response"]["status"]["message"])
    )
    assert one.decision is Decision.ALLOWED
    paths = {e.path for e in real_registry.server.requests_since(mark)}
    assert not any("/manifests/t" in p for p in paths)
