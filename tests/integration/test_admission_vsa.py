"""The admission fast path (issue 12): a Gate whose policy has only the ``vsa`` rule admits an image
from the signed summary ``provcheck verify --format vsa --sign-key --attach`` attached to it, in
a few registry requests, keeps that pass no longer than the summary's ``max-age``, and denies an
image without one naming the rule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from provcheck.admission import Decision, Gate, ReviewOutcome
from provcheck.api import inspect_image_async, verification_options
from provcheck.cache import open_cache
from provcheck.cache.verdicts import STORES_TTL, verdict_expiry
from provcheck.policy.loader import load_policy
from provcheck.source.registry import RegistryOptions
from tests import admission_docs as docs
from tests.gate_support import Recorder
from tests.integration.test_vsa import (
    FULL_POLICY,
    attach_summary,
    make_vsa,
    push_image,
    vsa_policy,
    write_key,
    write_policy,
)
from tests.registry import RegistryServer


def test_a_vsa_only_gate_admits_from_the_attached_summary_and_denies_without_one(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = write_key(tmp_path / "keys", "ci", ec.generate_private_key(ec.SECP256R1()))
    summarised = push_image(registry_server, unique_repository)
    bare = push_image(registry_server, f"{unique_repository}-bare", "bare")
    code, _ = make_vsa(
        capsys, summarised.pinned, write_policy(tmp_path / "ci", FULL_POLICY), key.private
    )
    assert code == 0
    policy_path = vsa_policy(tmp_path / "gate", key.public, max_age="1d")
    recorder = Recorder()

    async def run() -> list[tuple[ReviewOutcome, list[str]]]:
        gate = Gate(
            load_policy(policy_path),
            policy_path.read_bytes(),
            open_cache(str(tmp_path / "cache")),
            registry=RegistryOptions(),
            observer=recorder,
            tag_ttl=0.0,
        )
        answers: list[tuple[ReviewOutcome, list[str]]] = []
        try:
            for image in (f"{summarised.repo}:1", f"{summarised.repo}:1", f"{bare.repo}:1"):
                mark = registry_server.mark()
                outcome = await gate.review(docs.body(docs.pod_create([image])), mutate=False)
                answers.append(
                    (
                        outcome,
                        [f"{e.method} {e.path}" for e in registry_server.requests_since(mark)],
                    )
                )
        finally:
            await gate.aclose()
        return answers

    (cold, cold_paths), (warm, warm_paths), (denied, _) = asyncio.run(run())
    assert cold.decision is Decision.ALLOWED
    # HEAD of the tag, the root index, the .att tag, the referrers API and its tag-schema
    # fallback (this registry has none), and one blob: the summary's envelope (no provenance,
    # SBOM or config blob)
    assert len(cold_paths) <= 6, cold_paths
    assert len([p for p in cold_paths if "/blobs/" in p]) == 1, cold_paths  # only the summary
    # the pass is cached (bounded by max-age): the warm review only resolves the tag again
    assert warm.decision is Decision.ALLOWED
    assert len(warm_paths) == 1 and "/manifests/1" in warm_paths[0], warm_paths
    assert recorder.lookups[:2] == [False, True]
    assert denied.decision is Decision.DENIED
    message = str(dict(denied.response)["response"]["status"]["message"])
    assert "vsa " in message and "missing" in message, message


def test_a_cached_vsa_pass_ends_when_the_summary_gets_older_than_max_age(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
) -> None:
    key = write_key(tmp_path / "keys", "ci", ec.generate_private_key(ec.SECP256R1()))
    pushed = push_image(registry_server, unique_repository)
    ci = write_policy(tmp_path / "ci", FULL_POLICY)
    verified = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=110)
    attach_summary(pushed.pinned, ci, key.private, verified)
    now = datetime.now(UTC)
    for max_age, expected in (
        ("2h", verified + timedelta(hours=2)),  # 10 minutes left: kept 10 minutes
        ("1d", now + STORES_TTL),  # the stores' hour bounds it
        ("1h", None),  # stale: a fail, never kept
    ):
        path = vsa_policy(tmp_path / f"gate-{max_age}", key.public, max_age=max_age)
        policy = load_policy(path)
        found = asyncio.run(
            inspect_image_async(pushed.pinned, options=verification_options(policy))
        )
        assert verdict_expiry(found, policy, now, stores=True) == expected, max_age
