"""The audit's scheduling: input order whatever the finishing order, at most ``jobs`` at once,
at most ``window`` results waiting, copies verified once, a crash of one image its error."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

import provcheck.api
from provcheck.audit.run import AuditOptions, audit_stream
from provcheck.errors import NotFoundError
from provcheck.policy import Policy, parse_policy
from provcheck.report import Report, Verdict
from provcheck.source.registry import RegistryClient

POLICY = (
    "apiVersion: provcheck/v1\nkind: Policy\nname: p\nrules:\n  provenance:\n    required: true\n"
)


class _Fake:
    """Stands in for ``verify_image_async``: random delays, counts what runs at once."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.running = self.peak = 0
        self.rng = random.Random(7)

    async def __call__(self, reference: str, policy: Policy, **_: Any) -> Report:
        self.calls.append(reference)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.rng.random() / 500)
            if "crash" in reference:
                raise AssertionError("a bug")
            if "missing" in reference:
                raise NotFoundError("manifest 1 not found", 404)
            return Report.from_error("stand-in", reference=reference, policy=policy.name)
        finally:
            self.running -= 1


def _collect(refs: list[str], options: AuditOptions) -> list[Report]:
    policy = parse_policy(POLICY)

    async def collect() -> list[Report]:
        async with RegistryClient() as client:
            return [r async for r in audit_stream(refs, policy, client, options)]

    return asyncio.run(collect())


def test_input_order_jobs_and_one_report_per_input(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Fake()
    monkeypatch.setattr(provcheck.api, "verify_image_async", fake)
    refs = [f"registry.example/app{i % 37}:1" for i in range(300)]
    refs[10], refs[20] = "registry.example/crash:1", "registry.example/missing:1"
    reports = _collect(refs, AuditOptions(jobs=4, window=8))
    assert [r.reference for r in reports] == refs
    assert fake.peak == 4
    assert sorted(fake.calls) == sorted(set(refs))  # each distinct reference once
    assert reports[10].error == "internal error (AssertionError)"
    assert reports[20].error == "manifest 1 not found" and reports[20].digest == ""
    assert all(r.verdict is Verdict.ERROR for r in reports)


def test_the_window_bounds_what_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Fake()
    monkeypatch.setattr(provcheck.api, "verify_image_async", fake)
    refs = [f"registry.example/app{i}:1" for i in range(50)]
    policy = parse_policy(POLICY)
    started: list[int] = []

    async def collect() -> None:
        async with RegistryClient() as client:
            stream = audit_stream(refs, policy, client, AuditOptions(jobs=16, window=3))
            started.extend([len(fake.calls) async for _ in stream])

    asyncio.run(collect())
    # when the n-th result is emitted, at most n + window verifications were ever started
    assert all(calls <= n + 3 for n, calls in enumerate(started, start=1))


def test_copies_share_one_verification_and_keep_their_spelling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _Fake()
    monkeypatch.setattr(provcheck.api, "verify_image_async", fake)
    refs = [
        "alpine",
        "registry.example/a:1",
        "docker.io/library/alpine:latest",
        "alpine",
        "registry.example/a:1",
    ]
    reports = _collect(refs, AuditOptions(window=1))
    assert [r.reference for r in reports] == refs
    assert sorted(fake.calls) == ["alpine", "registry.example/a:1"]
