"""A registry outage during a run (the real registry behind a TCP proxy that is taken down and
brought back on the same address): what is cached is allowed, what is not is denied, a tag is
answered from its last digest only within its TTL, and the gate recovers; ``warm`` fills the
cache so that a review makes no request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from provcheck.admission import Decision, Gate, ReviewOutcome
from provcheck.cache import open_cache
from provcheck.report.model import Verdict
from provcheck.source.registry import RegistryOptions
from tests import admission_docs as docs
from tests.gate_support import POLICY_TEXT, Recorder, make_gate
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RealRegistry
from tests.tcp_proxy import TcpProxy

TTL = 3.0


async def _decide(gate: Gate, *images: str) -> ReviewOutcome:
    return await gate.review(docs.body(docs.pod_create(list(images))), mutate=False)


def test_an_outage_denies_what_is_not_cached_allows_what_is_and_the_gate_recovers(
    real_registry: RealRegistry, tmp_path: Path, unique_repository: str
) -> None:
    layout = REAL_DIR / "b-multi-max" / "oci-layout"
    cached_repo, cold_repo = f"{unique_repository}/cached", f"{unique_repository}/cold"
    digest = push_layout(real_registry.url, layout, cached_repo)["1"]
    push_layout(real_registry.url, REAL_DIR / "g-sbom-generator" / "oci-layout", cold_repo)
    host, port = real_registry.host.split(":")
    recorder = Recorder()
    with TcpProxy((host, int(port))) as proxy:
        tag, cold = f"{proxy.host}/{cached_repo}:1", f"{proxy.host}/{cold_repo}:1"
        pinned = f"{proxy.host}/{cached_repo}@{digest}"

        async def run() -> None:
            options = RegistryOptions(max_retries=0)
            gate = make_gate(tmp_path / "cache", observer=recorder, registry=options, tag_ttl=TTL)
            try:
                assert (await _decide(gate, tag, pinned)).decision is Decision.ALLOWED
                proxy.take_down()
                before = len(recorder.requests)
                # Within the TTL: the tag's last digest, its verdict from the cache.
                assert (await _decide(gate, tag)).decision is Decision.ALLOWED
                assert (await _decide(gate, pinned)).decision is Decision.ALLOWED
                assert len(recorder.requests) == before  # no request was needed
                denied = await _decide(gate, cold)
                assert denied.decision is Decision.DENIED
                message = denied.response["response"]["status"]["message"]
                assert f"{cold}: not verified: " in message
                assert recorder.requests[before:] and all(f for _, f in recorder.requests[before:])
                await asyncio.sleep(TTL + 0.2)
                # After the TTL: the tag must be resolved again, and cannot be.
                late = await _decide(gate, tag)
                assert late.decision is Decision.DENIED
                assert late.log["images"][0]["digest"] is None  # never an old digest
                assert (await _decide(gate, pinned)).decision is Decision.ALLOWED
                proxy.bring_up()
                back = await _decide(gate, tag, cold)
                assert back.decision is Decision.ALLOWED
                assert back.log["images"][0]["digest"] == digest
            finally:
                await gate.aclose()

        asyncio.run(run())


def test_warm_fills_the_cache_so_that_a_review_makes_no_request(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    refs = [real_registry.ref(case) for case in ("b-multi-max", "c-secrets-max", "i-cosign")]
    recorder = Recorder()

    async def run() -> None:
        gate = make_gate(tmp_path / "cache", observer=recorder, tag_ttl=60)
        try:
            summary = await gate.warm([*refs, refs[0], "Not A Reference", "127.0.0.1:1/x/y:1"])
            assert [r.reference for r in summary.results] == [
                *refs,
                "Not A Reference",
                "127.0.0.1:1/x/y:1",
            ]
            assert [r.verdict for r in summary.results] == [
                Verdict.PASS,
                Verdict.FAIL,
                Verdict.PASS,
                Verdict.ERROR,
                Verdict.ERROR,
            ]
            assert summary.count(Verdict.ERROR) == 2 and summary.results[3].error
            assert summary.results[0].digest == real_registry.root_digest("b-multi-max")
            mark, before = real_registry.server.mark(), len(recorder.requests)
            outcome = await _decide(gate, *refs)
            assert outcome.decision is Decision.DENIED  # c-secrets-max fails
            assert [i["verdict"] for i in outcome.log["images"]] == [
                "verified",
                "failed",
                "verified",
            ]
            assert real_registry.server.requests_since(mark) == []
            assert len(recorder.requests) == before
        finally:
            await gate.aclose()

    asyncio.run(run())


@pytest.mark.parametrize(
    ("policy", "memo", "refetched"),
    [
        (POLICY_TEXT, 30.0, False),  # the memo answers, the cache is not read
        (POLICY_TEXT, 0.0, True),  # no memo: the cache was cleared, verified again
        (POLICY_TEXT.replace("    required: true\n", "    max-age: 9999w\n", 1), 30.0, True),
    ],
)
def test_verdicts_are_kept_in_memory_unless_they_change_with_the_clock(
    real_registry: RealRegistry, tmp_path: Path, policy: str, memo: float, refetched: bool
) -> None:
    image = real_registry.ref("b-multi-max")
    cache = open_cache(str(tmp_path / "cache"))

    async def run() -> bool:
        gate = make_gate(cache, policy_text=policy, tag_ttl=60, verdict_memo=memo)
        try:
            assert (await _decide(gate, image)).decision is Decision.ALLOWED
            await cache.clear()
            mark = real_registry.server.mark()
            assert (await _decide(gate, image)).decision is Decision.ALLOWED
            return bool(real_registry.server.requests_since(mark))
        finally:
            await gate.aclose()

    assert asyncio.run(run()) is refetched
