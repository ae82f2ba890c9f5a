"""The per-host request limiter: slots per host, pauses, state only while needed."""

from __future__ import annotations

import asyncio

import pytest

from provcheck.source.limiter import HostLimiter


def test_at_most_per_host_requests_at_once_per_host() -> None:
    async def run() -> None:
        limiter = HostLimiter(per_host=2)
        busy: dict[str, int] = {"a": 0, "b": 0}
        peak: dict[str, int] = {"a": 0, "b": 0}

        async def request(host: str) -> None:
            async with limiter.slot(host):
                busy[host] += 1
                peak[host] = max(peak[host], busy[host])
                await asyncio.sleep(0.01)
                busy[host] -= 1

        await asyncio.gather(*(request(h) for h in "aaaaaabbb"))
        assert peak == {"a": 2, "b": 2}
        assert limiter.active_hosts() == 0  # nothing kept for idle hosts

    asyncio.run(run())


def test_a_pause_holds_the_host_and_ends() -> None:
    async def run() -> None:
        limiter = HostLimiter()
        assert await limiter.resume_in("a") == 0
        await limiter.pause("a", 0.2)
        await limiter.pause("a", 0.1)  # a shorter pause does not end a longer one early
        assert 0.1 < await limiter.resume_in("a") <= 0.2
        assert await limiter.resume_in("b") == 0
        await asyncio.sleep(0.25)
        assert await limiter.resume_in("a") == 0
        assert limiter.active_hosts() == 0

    asyncio.run(run())


def test_per_host_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_host"):
        HostLimiter(0)
