"""`provcheck audit` against a registry that rate-limits: HTTP 429 with ``Retry-After``.

docker-registry never answers 429, so a small proxy (pytest-httpserver, threaded) stands in
front of the real registry holding the real cases: it forwards every request, and answers 429
when its rule says so. The audit must finish with the verdicts of an audit of the registry
itself, wait out every ``Retry-After`` on the whole host (no request in the pause), keep each
image within ``--timeout`` (an image whose wait cannot fit is an error at once, not after the
wait), and never say pass for an image whose evidence it could not read.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from provcheck.cli import main
from tests.integration.test_verify_cli import EXPECTED, POLICY
from tests.paths import REAL_CASES
from tests.registry import RealRegistry

MARGIN = 2.0  # seconds for the command's own work on 2 shared cores
FORWARDED = ("content-type", "docker-content-digest", "content-length", "link")

Rule = Callable[[int, Request], int | None]
"""The number of the request (from 1) and the request -> Retry-After seconds for a 429, or
``None`` to forward it."""


@dataclass(frozen=True, slots=True)
class Seen:
    """A request the proxy answered: when (monotonic), what, and its status."""

    at: float
    method: str
    path: str
    status: int


class ThrottlingProxy:
    """Forwards to ``upstream``; answers 429 with ``Retry-After`` where ``rule`` says."""

    def __init__(self, upstream: str, rule: Rule) -> None:
        self.seen: list[Seen] = []
        self._rule = rule
        self._lock = threading.Lock()
        self._count = 0
        self._upstream = httpx.Client(base_url=upstream, timeout=30)
        self._server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._server.expect_request("").respond_with_handler(self._handle)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.port}"

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self._count += 1
            number = self._count
        wait = self._rule(number, request)
        if wait is not None:
            response = Response(b'{"errors":[{"code":"TOOMANYREQUESTS"}]}', status=429)
            response.headers["Retry-After"] = str(wait)
        else:
            accept = request.headers.get("Accept")
            upstream = self._upstream.request(
                request.method,
                request.full_path.rstrip("?"),
                headers={"Accept": accept} if accept else {},
            )
            response = Response(upstream.content, status=upstream.status_code)
            for name in FORWARDED:
                if name in upstream.headers:
                    response.headers[name] = upstream.headers[name]
        with self._lock:
            self.seen.append(
                Seen(time.monotonic(), request.method, request.path, response.status_code)
            )
        return response

    def __enter__(self) -> ThrottlingProxy:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.clear()
        self._server.stop()
        self._upstream.close()


@contextmanager
def proxy(real_registry: RealRegistry, rule: Rule) -> Iterator[ThrottlingProxy]:
    with ThrottlingProxy(real_registry.url, rule) as running:
        yield running


def _audit(tmp_path: Path, name: str, *args: str) -> tuple[int, list[dict[str, Any]], float]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    out = tmp_path / f"{name}.jsonl"
    started = time.monotonic()
    code = main(
        [
            "audit",
            "--policy",
            str(policy),
            "--format",
            "jsonl",
            "--output",
            str(out),
            "--cache",
            str(tmp_path / f"cache-{name}"),
            "-q",
            *args,
        ]
    )
    elapsed = time.monotonic() - started
    return code, [json.loads(line) for line in out.read_text().splitlines()], elapsed


def _via(real_registry: RealRegistry, host: str, case: str) -> str:
    return real_registry.ref(case).replace(real_registry.host, host, 1)


def _expected(case: str) -> str:
    return "pass" if EXPECTED[case][0] == 0 else "fail"


def test_a_throttled_audit_waits_out_retry_after_and_gets_the_right_verdicts(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    pause = 2

    def twice(number: int, request: Request) -> int | None:
        return pause if number in (2, 30) else None  # early in the run, and in its midst

    with proxy(real_registry, twice) as throttled:
        fleet = [_via(real_registry, throttled.host, case) for case in REAL_CASES]
        code, records, _ = _audit(tmp_path, "throttled", "--jobs", "4", "--timeout", "30", *fleet)
        seen = list(throttled.seen)
    assert code == 1
    assert [r["subject"]["reference"] for r in records] == fleet
    assert [r["verdict"] for r in records] == [_expected(case) for case in REAL_CASES]
    # the same digests and reports as an audit of the registry itself
    direct = [real_registry.ref(case) for case in REAL_CASES]
    _, plain, _ = _audit(tmp_path, "direct", "--jobs", "4", *direct)
    assert [r["subject"]["digest"] for r in records] == [r["subject"]["digest"] for r in plain]
    assert [r["results"] for r in records] == [r["results"] for r in plain]
    limited = [s for s in seen if s.status == 429]
    assert len(limited) == 2
    for hit in limited:
        # the whole host waited: nothing started during the pause (a request already on its
        # way when the 429 left may still arrive just after it)
        during = [s for s in seen if hit.at + 0.5 < s.at < hit.at + pause - 0.3]
        assert during == [], (hit, during)
        # and the refused request was sent again once, after the pause
        again = [s for s in seen if s.at > hit.at and (s.method, s.path) == (hit.method, hit.path)]
        assert again and again[0].status == 200 and again[0].at - hit.at >= pause - 0.1


def test_an_image_whose_wait_cannot_fit_its_timeout_is_an_error_at_once(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    def always(number: int, request: Request) -> int | None:
        return 60

    with proxy(real_registry, always) as refusing:
        fleet = [_via(real_registry, refusing.host, case) for case in ("b-multi-max", "i-cosign")]
        code, records, elapsed = _audit(tmp_path, "refused", "--timeout", "3", *fleet)
        seen = list(refusing.seen)
    assert code == 3
    assert [r["verdict"] for r in records] == ["error", "error"]
    assert all("429" in r["error"] for r in records), records
    assert all(r["subject"]["digest"] is None for r in records)
    assert elapsed < 3 + MARGIN  # the 60 s are not waited: the pause ends after the deadline
    assert 1 <= len(seen) <= 2  # each image asked once, at most; then the host was paused


def test_retry_after_waits_stop_at_the_image_timeout(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    def always(number: int, request: Request) -> int | None:
        return 1

    with proxy(real_registry, always) as refusing:
        ref = _via(real_registry, refusing.host, "b-multi-max")
        code, records, elapsed = _audit(tmp_path, "slow", "--timeout", "2.5", ref)
        seen = list(refusing.seen)
    assert code == 3
    (record,) = records
    assert record["verdict"] == "error" and "deadline of 2.5 s" in record["error"], record
    assert 2 <= len(seen) <= 3  # a try each second, while a wait fits in the budget
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    assert elapsed < 2.5 + MARGIN  # the budget, and the command's own work


def test_an_image_whose_attestations_are_rate_limited_is_never_a_pass(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    def blobs(number: int, request: Request) -> int | None:
        return 60 if "/blobs/" in request.path else None

    with proxy(real_registry, blobs) as partial:
        ref = _via(real_registry, partial.host, "b-multi-max")
        code, records, elapsed = _audit(tmp_path, "partial", "--timeout", "3", ref)
        seen = list(partial.seen)
    assert EXPECTED["b-multi-max"][0] == 0  # it passes when it can be read
    assert code == 3
    (record,) = records
    assert record["verdict"] == "error", record
    assert record["subject"]["digest"] == real_registry.root_digest("b-multi-max")
    assert "429" in json.dumps(record)
    assert any(s.status == 200 for s in seen) and any(s.status == 429 for s in seen)
    assert elapsed < 3 + MARGIN
