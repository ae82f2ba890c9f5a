"""``verify_cached`` reads and keeps verdicts only as of the clock: a verdict is as of when it
was computed, so a library caller asking about another instant (``now=``) gets that instant's
evaluation, never a verdict cached at another time, and keeps nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from provcheck.cache import open_cache
from provcheck.cache.verify import verify_cached
from provcheck.policy.loader import parse_policy
from provcheck.policy.resolver import FileResolver
from provcheck.report import Verdict
from tests.oci_push import push_layout
from tests.paths import REAL_DIR
from tests.registry import RegistryServer

POLICY = (
    b"apiVersion: provcheck/v1\nkind: Policy\nrules:\n  provenance:\n    required: true\n"
    b"    max-age: 3650d\n"
)


def test_a_cached_verdict_is_not_the_answer_for_another_instant(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layout = REAL_DIR / "b-multi-max" / "oci-layout"  # built in 2026: 3650 days old in 2036
    digest = push_layout(registry_server.url, layout, unique_repository)["1"]
    ref = f"{registry_server.host}/{unique_repository}@{digest}"
    policy = parse_policy(POLICY, "policy.yaml", resolver=FileResolver(tmp_path))
    monkeypatch.setenv("PROVCHECK_CACHE_HMAC_KEY", "k" * 32)
    lookups: list[bool] = []

    async def verdict(now: datetime | None) -> Verdict:
        store = open_cache(str(tmp_path / "cache"))
        try:
            report = await verify_cached(
                ref, policy, POLICY, store, now=now, on_lookup=lookups.append
            )
        finally:
            await store.aclose()
        return report.verdict

    clock = datetime.now(UTC)
    assert asyncio.run(verdict(None)) is Verdict.PASS  # computed and kept, as of now
    assert asyncio.run(verdict(None)) is Verdict.PASS and lookups == [False, True]
    later = clock + timedelta(days=365 * 20)
    assert asyncio.run(verdict(later)) is Verdict.FAIL  # too old then: not the cached pass
    assert asyncio.run(verdict(clock - timedelta(days=1))) is Verdict.PASS
    assert lookups == [False, True]  # the other instants neither read nor kept a verdict
