"""Many verifications through one shared client make only the requests their content needs.

The issue's example: 55 concurrent verifications of the 11 real images (and 11, 220) on one
``RegistryClient``, against the real docker-registry, with ``policies/baseline.yaml``.

*Requests needed* is defined as: each distinct image verified once, one after another, each
with a fresh client, requests summed, minus the token requests that repeat one already made
(same path and query: a shared client keeps the token). This registry is anonymous, so there are
no token requests and the second term is 0; the test computes it anyway, from the access log.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provcheck.api import verify_image_async
from provcheck.policy import Policy, load_policy
from provcheck.report import ReportFormat, render
from provcheck.source.registry import RegistryClient, RegistryOptions
from tests.paths import REAL_CASES
from tests.registry import AccessLogEntry, RealRegistry

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, tzinfo=UTC)
# /v2/<name>/(manifests|blobs)/<digest>: the same bytes in every repository.
_BY_DIGEST = re.compile(r"^/v2/.+/(?P<kind>manifests|blobs)/(?P<digest>sha256:[0-9a-f]{64})$")


def _options(tmp_path: Path) -> RegistryOptions:
    # The window covers the whole run: the figure is about content, not about how fast this
    # shared machine gets every verification to its cosign-tag lookups.
    return RegistryOptions(docker_config_dir=tmp_path / "no-docker-config", tag_window=60.0)


def _token_requests(log: Sequence[AccessLogEntry]) -> list[str]:
    return [entry.path for entry in log if not entry.path.startswith("/v2/")]


def _distinct(log: Sequence[AccessLogEntry]) -> int:
    """Distinct requests: by (method, digest) for content, else by (method, path)."""
    keys = set()
    for entry in log:
        match = _BY_DIGEST.match(entry.path)
        keys.add((entry.method, f"{match['kind']}@{match['digest']}" if match else entry.path))
    return len(keys)


@dataclass(frozen=True, slots=True)
class Baseline:
    needed: int
    reports: dict[str, str]  # reference -> JSON report


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(ROOT / "policies" / "baseline.yaml")


@pytest.fixture(scope="module")
def baseline(
    real_registry: RealRegistry, policy: Policy, tmp_path_factory: pytest.TempPathFactory
) -> Baseline:
    """Each of the 11 images verified once, in turn, each with a fresh client."""
    options = _options(tmp_path_factory.mktemp("baseline"))
    server = real_registry.server
    made = 0
    tokens: list[str] = []
    reports: dict[str, str] = {}
    for case in REAL_CASES:
        ref = real_registry.ref(case)
        mark = server.mark()

        async def run(ref: str = ref) -> tuple[str, int]:
            async with RegistryClient(options) as own:
                report = await verify_image_async(ref, policy, client=own, now=NOW)
                return render(report, ReportFormat.JSON), own.requests_made

        reports[ref], requests = asyncio.run(run())
        log = server.requests_since(mark)
        assert len(log) == requests
        made += requests
        tokens += _token_requests(log)
    repeated_tokens = sum(count - 1 for count in Counter(tokens).values())
    return Baseline(made - repeated_tokens, reports)


@pytest.mark.parametrize("n", [11, 55, 220])
def test_concurrent_verifications_on_one_client_make_only_the_needed_requests(
    real_registry: RealRegistry,
    policy: Policy,
    baseline: Baseline,
    tmp_path: Path,
    n: int,
) -> None:
    refs = [real_registry.ref(REAL_CASES[i % len(REAL_CASES)]) for i in range(n)]
    server = real_registry.server
    mark = server.mark()

    async def run() -> tuple[list[str], int]:
        async with RegistryClient(_options(tmp_path)) as client:
            reports = await asyncio.gather(
                *(verify_image_async(ref, policy, client=client, now=NOW) for ref in refs)
            )
            return [render(r, ReportFormat.JSON) for r in reports], client.requests_made

    reports, made = asyncio.run(run())
    log = server.requests_since(mark)
    assert baseline.needed == 160  # the figure for the 11 real images
    assert (len(log), made) == (baseline.needed, baseline.needed)
    assert _distinct(log) == len(log)  # nothing fetched twice
    assert reports == [baseline.reports[ref] for ref in refs]  # as verified one at a time
