"""Single-flight: one run per key for concurrent callers, cancellation, errors, the window."""

from __future__ import annotations

import asyncio
import math

import pytest

from provcheck.errors import DeadlineExceededError, RegistryError
from provcheck.source.deadline import Deadline
from provcheck.source.flight import SharedDeadline, SingleFlight


class _Runs:
    """A run that counts its starts and waits until released."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()
        self.cancelled = 0
        self.fail: Exception | None = None

    async def __call__(self, deadline: SharedDeadline) -> str:
        self.started += 1
        number = self.started
        try:
            with deadline.waiting("reg.example", "GET blob sha256:1"):
                await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail is not None:
            raise self.fail
        return f"answer {number}"


async def _settle() -> None:
    """Let the callers and the runs they start reach their first wait."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_concurrent_callers_share_one_run() -> None:
    async def run() -> None:
        flights: SingleFlight[str, str] = SingleFlight()
        runs = _Runs()
        callers = [asyncio.create_task(flights.run("k", runs)) for _ in range(5)]
        other = asyncio.create_task(flights.run("other", runs))
        await _settle()
        assert (runs.started, len(flights)) == (2, 2)
        runs.release.set()
        assert await asyncio.gather(*callers) == ["answer 1"] * 5
        assert await other == "answer 2"
        assert len(flights) == 0
        assert await flights.run("k", runs) == "answer 3"  # no window: a new run

    asyncio.run(run())


def test_a_cancelled_caller_leaves_the_run_to_the_others() -> None:
    async def run() -> None:
        flights: SingleFlight[str, str] = SingleFlight()
        runs = _Runs()
        first = asyncio.create_task(flights.run("k", runs))
        second = asyncio.create_task(flights.run("k", runs))
        await _settle()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert runs.cancelled == 0
        runs.release.set()
        assert await second == "answer 1"
        assert runs.started == 1

    asyncio.run(run())


def test_the_last_caller_to_leave_cancels_the_run_and_waits_for_it() -> None:
    async def run() -> None:
        flights: SingleFlight[str, str] = SingleFlight()
        runs = _Runs()
        callers = [asyncio.create_task(flights.run("k", runs)) for _ in range(2)]
        await _settle()
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        assert runs.cancelled == 1
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert len(flights) == 0

    asyncio.run(run())


def test_an_error_is_shared_with_current_callers_but_not_kept() -> None:
    async def run() -> None:
        flights: SingleFlight[str, str] = SingleFlight(keep_for=60)
        runs = _Runs()
        runs.fail = RegistryError("HTTP 503")
        callers = [asyncio.create_task(flights.run("k", runs)) for _ in range(3)]
        await _settle()
        runs.release.set()
        results = await asyncio.gather(*callers, return_exceptions=True)
        assert [str(r) for r in results] == ["HTTP 503"] * 3
        assert runs.started == 1
        runs.fail = None
        assert await flights.run("k", runs) == "answer 2"  # the error was not kept
        assert await flights.run("k", runs) == "answer 2"  # the answer is, for the window

    asyncio.run(run())


def test_answers_are_kept_for_the_window_only() -> None:
    async def run() -> None:
        flights: SingleFlight[str, str] = SingleFlight(keep_for=0.2)
        runs = _Runs()
        runs.release.set()
        assert await flights.run("k", runs) == "answer 1"
        assert await flights.run("k", runs) == "answer 1"
        await asyncio.sleep(0.25)
        assert await flights.run("k", runs) == "answer 2"

    asyncio.run(run())


def test_the_kept_answers_are_bounded() -> None:
    async def run() -> None:
        flights: SingleFlight[int, str] = SingleFlight(keep_for=60, max_kept=3)
        runs = _Runs()
        runs.release.set()
        for key in range(5):
            await flights.run(key, runs)
        assert len(flights._kept) == 3
        assert await flights.run(0, runs) == "answer 6"  # forgotten: run again

    asyncio.run(run())


def test_the_shared_deadline_is_the_longest_and_names_what_is_pending() -> None:
    async def run() -> None:
        flights: SingleFlight[str, str] = SingleFlight()
        runs = _Runs()
        short, long = Deadline(0.2), Deadline(5)

        async def call(deadline: Deadline) -> str:
            async with deadline.enforce():
                return await flights.run("k", runs, deadline)

        first = asyncio.create_task(call(short))
        await _settle()
        second = asyncio.create_task(call(long))  # joins while the run is waiting
        await asyncio.sleep(0.3)
        with pytest.raises(DeadlineExceededError) as info:
            await first
        assert (info.value.host, info.value.pending) == ("reg.example", "GET blob sha256:1")
        assert runs.cancelled == 0  # the other caller still waits for it
        runs.release.set()
        assert await second == "answer 1"

    asyncio.run(run())


def test_shared_deadline_remaining() -> None:
    async def run() -> None:
        shared = SharedDeadline()
        assert shared.remaining() == math.inf
        short, long = Deadline(1), Deadline(3)
        shared.join(short)
        shared.join(long)
        assert shared.remaining() == 3
        shared.leave(long)
        assert shared.remaining() == 1
        shared.join(None)  # a caller without a deadline: no bound
        assert shared.remaining() == math.inf

    asyncio.run(run())


def test_a_single_caller_learns_the_innermost_pending_operation() -> None:
    """As without single-flight: the deadline names what the run was waiting for."""

    async def run() -> None:
        flights: SingleFlight[str, str] = SingleFlight()

        async def start(deadline: SharedDeadline) -> str:
            with (
                deadline.waiting("reg.example", "GET manifest 1"),
                deadline.waiting("auth.example", "token for repository:x:pull"),
            ):
                await asyncio.sleep(10)
            return "never"

        deadline = Deadline(0.1)
        with pytest.raises(DeadlineExceededError) as info:
            async with deadline.enforce():
                await flights.run("k", start, deadline)
        assert str(info.value) == (
            "deadline of 0.1 s exceeded waiting for auth.example (token for repository:x:pull)"
        )
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(run())
