"""With ``offload``, the policy is evaluated off the event loop by ``verify_image_async`` as by
``verify_cached`` (one helper, ``evaluate_async``): given an executor, the evaluation is the
one task it runs for a provenance-only policy on a small image (no signature to check, no
large statement to parse), on a thread other than the loop's; the report is the one an inline
evaluation gives.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from provcheck.api import verify_image_async
from provcheck.cache import open_cache
from provcheck.cache.verify import verify_cached
from provcheck.policy.loader import parse_policy
from provcheck.policy.resolver import FileResolver
from provcheck.report.json import report_to_dict
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.registry import RegistryServer

POLICY = b"apiVersion: provcheck/v1\nkind: Policy\nrules:\n  provenance:\n    required: true\n"


class Recorder(ThreadPoolExecutor):
    """A thread pool that records the name of each function it runs and the thread it ran on."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.ran: list[tuple[str, int]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def run() -> Any:
            inner = fn.args[0] if isinstance(fn, functools.partial) else fn
            self.ran.append((getattr(inner, "__name__", "?"), threading.get_ident()))
            return fn(*args, **kwargs)

        return super().submit(run)


def _push(server: RegistryServer, repository: str) -> str:
    builder = ImageBuilder(repository.rsplit("/", 1)[-1])
    amd64 = builder.add_platform("linux/amd64")
    builder.attest(amd64, [provenance_statement(amd64.digest)])
    builder.build().push(server, repository, "1")
    return f"{server.host}/{repository}:1"


@pytest.mark.parametrize("path", ["verify_image_async", "verify_cached"])
def test_the_policy_is_evaluated_where_offload_says(
    registry_server: RegistryServer,
    unique_repository: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    ref = _push(registry_server, unique_repository)
    policy = parse_policy(POLICY, "policy.yaml", resolver=FileResolver(tmp_path))
    monkeypatch.setenv("PROVCHECK_CACHE_HMAC_KEY", "k" * 32)

    async def verify(offload: Recorder | bool, cache: str) -> tuple[dict[str, Any], int]:
        loop_thread = threading.get_ident()
        if path == "verify_image_async":
            report = await verify_image_async(ref, policy, offload=offload)
        else:
            store = open_cache(str(tmp_path / cache))
            try:
                report = await verify_cached(ref, policy, POLICY, store, offload=offload)
            finally:
                await store.aclose()
        return report_to_dict(report), loop_thread

    inline, _ = asyncio.run(verify(False, "inline"))
    with Recorder() as executor:
        offloaded, loop_thread = asyncio.run(verify(executor, "offloaded"))
    assert [name for name, _ in executor.ran] == ["evaluate"]
    assert all(thread != loop_thread for _, thread in executor.ran)
    assert offloaded["verdict"] == inline["verdict"] == "pass"
    assert offloaded["results"] == inline["results"]
