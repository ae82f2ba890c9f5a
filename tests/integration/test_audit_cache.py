"""``provcheck audit --cache`` end to end on the real cases in the real registry: a warm audit of
digest-pinned references makes no registry request and of tags one ``HEAD`` each, an audit
killed halfway (SIGKILL) and run again gives the same JSONL without redoing what finished, and
a registry outage is an error even with a cached verdict."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from provcheck.cli import main
from tests.conftest import require_docker_registry
from tests.integration.test_verify_cli import EXPECTED, POLICY
from tests.oci_push import push_layout
from tests.paths import REAL_DIR, REPO_ROOT
from tests.registry import AccessLogEntry, RealRegistry, RegistryServer

CASES = sorted(EXPECTED)
"""The real cases that pass or fail (cacheable verdicts); errors are never cached."""
PROVCHECK = str(REPO_ROOT / ".venv" / "bin" / "provcheck")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _audit(
    capsys: pytest.CaptureFixture[str], policy: Path, cache: Path | str, *refs: str
) -> tuple[int, str]:
    code = main(
        ["audit", "--policy", str(policy), "--cache", str(cache), "--format", "jsonl", *refs]
    )
    out, _ = capsys.readouterr()
    return code, out


def _by_repository(entries: list[AccessLogEntry]) -> dict[str, list[tuple[str, str]]]:
    """``{repository: [(method, what after /manifests/ or /blobs/ ...)]}`` of ``/v2/`` requests."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for entry in entries:
        path = entry.path.split("?", 1)[0]
        if not path.startswith("/v2/") or path == "/v2/":
            continue
        for kind in ("/manifests/", "/blobs/", "/referrers/"):
            if kind in path:
                repository, rest = path[len("/v2/") :].split(kind, 1)
                found[repository].append((entry.method, kind.strip("/") + "/" + rest))
                break
    return dict(found)


def _reports(jsonl: str) -> list[dict[str, Any]]:
    """The records of an audit's JSONL without ``inputIndex`` (where each input stood)."""
    records = [json.loads(line) for line in jsonl.splitlines()]
    return [{k: v for k, v in r.items() if k != "inputIndex"} for r in records]


def test_a_warm_audit_of_pinned_references_makes_no_request_and_of_tags_one_head_each(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, cache = real_registry.server, tmp_path / "cache"
    tags = [real_registry.ref(case) for case in CASES]
    pinned = [
        f"{real_registry.host}/{real_registry.repositories[c]}@{real_registry.root_digest(c)}"
        for c in CASES
    ]
    expected = _audit(capsys, policy, tmp_path / "other", *tags, *pinned)
    cold = _audit(capsys, policy, cache, *tags, *pinned)
    assert cold == expected and cold[0] == 1
    verdicts = [json.loads(line)["verdict"] for line in cold[1].splitlines()]
    assert "error" not in verdicts and len(verdicts) == 2 * len(CASES)

    mark = server.mark()
    assert _reports(_audit(capsys, policy, cache, *pinned)[1]) == _reports(cold[1])[len(CASES) :]
    assert server.requests_since(mark) == []

    mark = server.mark()
    warm = _audit(capsys, policy, cache, *tags)
    assert _reports(warm[1]) == _reports(cold[1])[: len(CASES)]
    assert sorted((e.method, e.path) for e in server.requests_since(mark)) == sorted(
        ("HEAD", f"/v2/{real_registry.repositories[case]}/manifests/{ref.rsplit(':', 1)[1]}")
        for case, ref in zip(CASES, tags, strict=True)
    )


def test_a_cold_tag_is_resolved_by_one_head_and_read_by_digest(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = "b-multi-max"
    repository, ref = real_registry.repositories[case], real_registry.ref(case)
    mark = real_registry.server.mark()
    assert _audit(capsys, policy, tmp_path / "cache", ref)[0] == 0
    manifests = [
        (e.method, e.path)
        for e in real_registry.server.requests_since(mark)
        if "/manifests/" in e.path
    ]
    assert manifests[0] == ("HEAD", f"/v2/{repository}/manifests/1")
    assert ("GET", f"/v2/{repository}/manifests/1") not in manifests  # never GET by tag
    assert ("GET", f"/v2/{repository}/manifests/{real_registry.root_digest(case)}") in manifests


def test_a_cached_verdict_is_not_used_when_the_head_of_its_tag_fails(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_docker_registry()
    cache = tmp_path / "cache"
    with RegistryServer(tmp_path / "registry") as server:
        push_layout(server.url, REAL_DIR / "b-multi-max" / "oci-layout", "lab/outage")
        ref = f"{server.host}/lab/outage:1"
        assert _audit(capsys, policy, cache, ref)[0] == 0
        assert _audit(capsys, policy, cache, ref)[0] == 0  # warm: the verdict is cached
    code, out = _audit(capsys, policy, cache, ref)  # the registry is down
    report = json.loads(out)
    assert code == 3 and report["verdict"] == "error"
    assert report["subject"]["digest"] is None  # never an old digest


async def _verdicts_in(url: str) -> int:
    client = redis.asyncio.from_url(url)
    try:
        return len([key async for key in client.scan_iter(match="*verdict:*")])
    finally:
        await client.aclose()


def _fleet(registry: RealRegistry, prefix: str) -> list[str]:
    """The cases pushed under two repositories each: all of the first copy, then the second."""
    refs = []
    for copy in (1, 2):
        for case in CASES:
            repository = f"{prefix}/{copy}/{case}"
            push_layout(registry.url, REAL_DIR / case / "oci-layout", repository, tags=["1"])
            refs.append(f"{registry.host}/{repository}:1")
    return refs


def _verdict_files(cache: Path) -> int:
    folder = cache / "verdicts"
    if not folder.exists():
        return 0
    return sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))


def test_an_audit_killed_halfway_and_run_again_gives_the_same_results_and_redoes_only_the_rest(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, unique_repository: str
) -> None:
    refs = _fleet(real_registry, unique_repository)
    listing = tmp_path / "fleet.txt"
    listing.write_text("".join(f"{ref}\n" for ref in refs))
    cache = tmp_path / "cache"
    command = [PROVCHECK, "audit", "--policy", str(policy), "--from", str(listing), "-q"]
    command += ["--format", "jsonl", "--jobs", "1"]
    env = {**os.environ}

    def run(where: str) -> bytes:
        done = subprocess.run(
            [*command, "--cache", where], capture_output=True, env=env, timeout=300, check=False
        )
        assert done.returncode == 1, done.stderr
        return done.stdout

    expected = run("none")
    proc = subprocess.Popen([*command, "--cache", str(cache)], stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while _verdict_files(cache) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = _verdict_files(cache)
    assert 3 <= finished < len(CASES)  # killed halfway through the first copies

    mark = real_registry.server.mark()
    assert run(str(cache)) == expected  # byte-identical JSONL
    seen = _by_repository(real_registry.server.requests_since(mark))
    for index, ref in enumerate(refs):
        repository = ref.split("/", 1)[1].rsplit(":", 1)[0]
        if index < finished:  # verified before the kill (one at a time, in order): one HEAD
            assert seen[repository] == [("HEAD", "manifests/1")], repository
        elif index < len(CASES):  # never verified: its content is read from the registry
            assert any(method == "GET" for method, _ in seen[repository]), repository
    assert _verdict_files(cache) == len(refs)

    mark = real_registry.server.mark()
    assert run(str(cache)) == expected  # the cache is whole: every image one HEAD now
    seen = _by_repository(real_registry.server.requests_since(mark))
    assert sorted(seen.values()) == [[("HEAD", "manifests/1")]] * len(refs)
    assert main(["cache", "info", "--cache", str(cache)]) == 0


def test_a_warm_audit_through_redis_costs_one_head_per_tag(
    real_registry: RealRegistry,
    policy: Path,
    redis_url: str,
    unique_repository: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PROVCHECK_CACHE_HMAC_KEY", "0123456789abcdef-test-key")
    refs = []
    for case in ("b-multi-max", "c-secrets-max"):
        repository = f"{unique_repository}/{case}"
        push_layout(real_registry.url, REAL_DIR / case / "oci-layout", repository, tags=["1"])
        refs.append(f"{real_registry.host}/{repository}:1")
    server = real_registry.server
    before = asyncio.run(_verdicts_in(redis_url))
    cold = _audit(capsys, policy, redis_url, *refs)
    assert cold[0] == 1
    assert asyncio.run(_verdicts_in(redis_url)) == before + 2  # kept in Redis
    mark = server.mark()
    assert _audit(capsys, policy, redis_url, *refs) == cold
    assert sorted(e.method for e in server.requests_since(mark)) == ["HEAD", "HEAD"]
