"""The per-host tables of the token cache stay bounded in a long-lived client."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from provcheck.source.registry.auth import MAX_ENDPOINTS, MAX_TOKENS, AuthState

SCOPES = ("repository:x:pull",)


def _state() -> AuthState:
    return AuthState(insecure=frozenset(), user_agent="t", timeout=httpx.Timeout(1.0))


def test_tokens_are_kept_least_recently_used_up_to_the_bound() -> None:
    state = _state()
    for n in range(MAX_TOKENS + 1):
        state.store(f"r{n}.io", "x", SCOPES, "fp", (f"tok{n}", 300.0))
    assert len(state._tokens) == MAX_TOKENS
    assert state.token("r0.io", SCOPES, "fp") is None  # the oldest went
    assert state.token(f"r{MAX_TOKENS}.io", SCOPES, "fp") == f"tok{MAX_TOKENS}"
    assert len(state._scopes_for) == MAX_TOKENS


def test_expired_tokens_are_dropped_before_live_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    state = _state()
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for n in range(MAX_TOKENS):
        state.store(f"r{n}.io", "x", SCOPES, "fp", (f"tok{n}", 60.0))
    clock[0] += 3600
    state.store("live.io", "x", SCOPES, "fp", ("live", 60.0))
    assert len(state._tokens) == 1  # all the expired ones went, not just the oldest
    assert state.token("live.io", SCOPES, "fp") == "live"


def test_endpoint_tables_are_bounded() -> None:
    state = _state()
    for n in range(MAX_ENDPOINTS + 10):
        state.set_basic(f"r{n}.io")
    assert len(state._basic) == len(state._challenged) == MAX_ENDPOINTS
    assert not state.uses_basic("r0.io") and state.uses_basic(f"r{MAX_ENDPOINTS}.io")


def test_a_token_lock_exists_only_while_it_is_held_or_awaited() -> None:
    state = _state()

    async def run() -> None:
        entered = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with state.lock("r.io", SCOPES, "fp"):
                entered.set()
                await release.wait()

        async def waiter() -> None:
            async with state.lock("r.io", SCOPES, "fp"):
                pass

        tasks = [asyncio.create_task(holder())]
        await entered.wait()
        tasks.append(asyncio.create_task(waiter()))
        await asyncio.sleep(0)
        assert len(state._locks) == 1
        release.set()
        await asyncio.gather(*tasks)
        assert len(state._locks) == 0

    asyncio.run(run())
