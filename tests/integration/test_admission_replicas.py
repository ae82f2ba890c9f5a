"""Two gate replicas sharing one Redis cache (the deployment of issue 11): what one verified, the
other answers with one ``HEAD`` per tag and no content request; a digest-pinned image with none."""

from __future__ import annotations

import asyncio
from pathlib import Path

from provcheck.admission import Decision, ReviewOutcome
from provcheck.cache import open_cache
from tests import admission_docs as docs
from tests.gate_support import make_gate
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RealRegistry

SECRET = b"0123456789abcdef-replica-key"


def test_a_second_replica_reuses_the_first_ones_verdicts_through_redis(
    real_registry: RealRegistry, redis_url: str, unique_repository: str, tmp_path: Path
) -> None:
    digest = push_layout(
        real_registry.url, REAL_DIR / "b-multi-max" / "oci-layout", unique_repository
    )["1"]
    tag = f"{real_registry.host}/{unique_repository}:1"
    pinned = f"{real_registry.host}/{unique_repository}@{digest}"
    body = docs.body(docs.pod_create([tag, pinned]))

    async def replica() -> ReviewOutcome:
        cache = open_cache(redis_url, secret=SECRET)
        gate = make_gate(cache)
        try:
            return await gate.review(body, mutate=True)
        finally:
            await gate.aclose()
            await cache.aclose()

    first = asyncio.run(replica())
    assert first.decision is Decision.ALLOWED
    mark = real_registry.server.mark()
    second = asyncio.run(replica())
    assert second.decision is Decision.ALLOWED
    assert second.response["response"]["patch"] == first.response["response"]["patch"]
    seen = [(e.method, e.path) for e in real_registry.server.requests_since(mark)]
    assert seen == [("HEAD", f"/v2/{unique_repository}/manifests/1")]
