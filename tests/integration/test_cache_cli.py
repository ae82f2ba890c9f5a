"""``verify --cache`` and ``provcheck cache`` end to end on the real cases in the real registry:
a warm digest-pinned verification makes no registry request, a warm tag one, the cold path
without --cache imports nothing of the cache, and a verdict tied to max-age expires when the
build gets too old."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio

from provcheck.api import inspect_image, verification_options
from provcheck.cache.verdicts import IMMUTABLE_TTL, STORES_TTL, verdict_expiry
from provcheck.cli import main
from provcheck.oci.digest import Digest
from provcheck.policy import load_policy
from tests.paths import REAL_DIR, REPO_ROOT
from tests.registry import RealRegistry

POLICY = """\
apiVersion: provcheck/v1
kind: Policy
name: cached
rules:
  provenance:
    required: true
  platforms:
    required: [linux/amd64]
  build-args:
    secrets: deny
"""
SECRET = "0123456789abcdef-test-key"
CASE = "b-multi-max"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["verify", *args, "--format", "json"])
    out, _ = capsys.readouterr()
    return code, out


def _pinned(registry: RealRegistry, case: str) -> str:
    return f"{registry.host}/{registry.repositories[case]}@{registry.root_digest(case)}"


def test_a_warm_pinned_verification_makes_no_registry_request(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cache = _pinned(real_registry, CASE), str(tmp_path / "cache")
    server = real_registry.server
    mark = server.mark()
    cold = _verify(capsys, ref, "--policy", str(policy), "--cache", cache)
    assert cold[0] == 0 and json.loads(cold[1])["verdict"] == "pass"
    assert server.requests_since(mark)  # the cold run read the registry
    shutil.rmtree(Path(cache) / "blobs")  # only the verdict is left: it answers alone
    mark = server.mark()
    warm = _verify(capsys, ref, "--policy", str(policy), "--cache", cache)
    assert server.requests_since(mark) == []
    assert warm == cold  # the same report, byte for byte
    uncached = _verify(capsys, ref, "--policy", str(policy))
    assert uncached == cold


def test_a_warm_tag_costs_one_request_and_the_policy_is_part_of_the_key(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cache = real_registry.ref(CASE), str(tmp_path / "cache")
    server = real_registry.server
    cold = _verify(capsys, ref, "--policy", str(policy), "--cache", cache)
    mark = server.mark()
    warm = _verify(capsys, ref, "--policy", str(policy), "--cache", cache)
    assert [(e.method, e.path) for e in server.requests_since(mark)] == [
        ("GET", f"/v2/{real_registry.repositories[CASE]}/manifests/1")
    ]
    assert warm == cold and json.loads(warm[1])["subject"]["reference"] == ref
    policy.write_text(POLICY.replace("name: cached", "name: edited"))
    mark = server.mark()
    edited = _verify(capsys, ref, "--policy", str(policy), "--cache", cache)
    assert json.loads(edited[1])["policy"] == "edited"
    # a new verdict: the content came from the cache, so only the tag was asked for again
    assert len(server.requests_since(mark)) == 1


def test_a_warm_pinned_verification_through_redis_needs_the_hmac_key(
    real_registry: RealRegistry,
    policy: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ref, server = _pinned(real_registry, "c-secrets-max"), real_registry.server
    monkeypatch.setenv("PROVCHECK_CACHE_HMAC_KEY", SECRET)
    cold = _verify(capsys, ref, "--policy", str(policy), "--cache", redis_url)
    assert cold[0] == 1  # c-secrets-max leaks build-arg secrets: fail, and cached
    asyncio.run(_drop_blobs(redis_url))  # only the verdict is left: it answers alone
    mark = server.mark()
    assert _verify(capsys, ref, "--policy", str(policy), "--cache", redis_url) == cold
    assert server.requests_since(mark) == []
    monkeypatch.setenv("PROVCHECK_CACHE_HMAC_KEY", "another-key-of-sixteen-bytes")
    caplog.clear()
    mark = server.mark()
    assert _verify(capsys, ref, "--policy", str(policy), "--cache", redis_url) == cold
    assert "its MAC does not verify" in caplog.text  # another key: a miss, verified again
    assert server.requests_since(mark)


async def _drop_blobs(url: str) -> None:
    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match="provcheck:blob:*")]
        assert keys
        await client.unlink(*keys)
    finally:
        await client.aclose()


def test_verify_without_cache_imports_nothing_of_the_cache(policy: Path) -> None:
    layout = f"oci-layout://{REAL_DIR / CASE / 'oci-layout'}:1"
    code = (
        "import sys; from provcheck.cli import main; "
        f"rc = main(['verify', {layout!r}, '--policy', {str(policy)!r}]); "
        "print(rc, sorted(m for m in sys.modules if m.startswith(('provcheck.cache', 'redis'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "0 []"


def test_cache_info_prune_clear(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = str(tmp_path / "cache")
    _verify(capsys, _pinned(real_registry, CASE), "--policy", str(policy), "--cache", cache)
    assert main(["cache", "info", "--cache", cache]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"cache: {cache}\n") and "verdicts: 1 entries" in out
    assert "content: 0 entries" not in out
    assert main(["cache", "prune", "--cache", cache]) == 0
    assert capsys.readouterr().out == f"{cache}: removed 0 entries (0 bytes)\n"
    assert main(["cache", "clear", "--cache", cache]) == 0
    assert "removed 0 entries" not in capsys.readouterr().out
    assert main(["cache", "info", "--cache", cache]) == 0
    assert "content: 0 entries, 0 bytes\nverdicts: 0 entries" in capsys.readouterr().out


def test_a_max_age_verdict_expires_when_the_build_gets_too_old(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.replace("required: true\n", "required: true\n    max-age: 30d\n", 1))
    policy = load_policy(path)
    layout = f"oci-layout://{REAL_DIR / CASE / 'oci-layout'}:1"
    found = inspect_image(layout, options=verification_options(policy))
    finished = datetime(2026, 11, 26, 13, 32, 53, 151236, tzinfo=UTC)  # buildFinishedOn
    now = datetime(2026, 12, 2, tzinfo=UTC)
    expires = verdict_expiry(found, policy, now, stores=False)
    assert expires is not None and abs(expires - (finished + timedelta(days=30))) < timedelta(
        milliseconds=1
    )
    # once too old, the verdict stays fail but its message counts days: the next day
    later = finished + timedelta(days=40, hours=1)
    expires = verdict_expiry(found, policy, later, stores=False)
    assert expires is not None and abs(expires - (finished + timedelta(days=41))) < timedelta(
        milliseconds=1
    )
    # without max-age only the TTL bounds it
    plain = load_policy(_write(tmp_path, POLICY))
    assert verdict_expiry(found, plain, now, stores=False) == now + IMMUTABLE_TTL
    assert verdict_expiry(found, plain, now, stores=True) == now + STORES_TTL


def _write(folder: Path, text: str) -> Path:
    path = folder / "plain.yaml"
    path.write_text(text)
    return path


def test_cache_commands_need_a_cache_and_a_long_enough_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "info", "--cache", "none"]) == 2
    assert "needs a cache" in capsys.readouterr().err
    assert not Path("none").exists()
    monkeypatch.setenv("PROVCHECK_CACHE_HMAC_KEY", "short-secret")
    assert main(["cache", "info", "--cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "at least 16 bytes" in err and "short-secret" not in err


def test_verifications_killed_at_any_point_leave_a_cache_that_gives_the_same_report(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cache = real_registry.ref("f-slsa-v1"), str(tmp_path / "cache")
    expected = _verify(capsys, ref, "--policy", str(policy))
    command = [str(REPO_ROOT / ".venv" / "bin" / "provcheck"), "verify", ref]
    command += ["--policy", str(policy), "--cache", cache, "--format", "json"]
    for delay in (0.05, 0.15, 0.3, 0.45, 0.6, 0.8):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _verify(capsys, ref, "--policy", str(policy), "--cache", cache) == expected
    assert _verify(capsys, ref, "--policy", str(policy), "--cache", cache) == expected


def test_poisoned_content_in_the_cache_is_fetched_again_never_used(
    real_registry: RealRegistry, policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cache = _pinned(real_registry, "c-secrets-max"), tmp_path / "cache"
    cold = _verify(capsys, ref, "--policy", str(policy), "--cache", str(cache))
    shutil.rmtree(cache / "verdicts")
    blobs = [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    assert blobs
    for path in blobs:  # the secret-leaking provenance swapped for something harmless-looking
        path.write_bytes(b'{"schemaVersion": 2, "manifests": []}')
    mark = real_registry.server.mark()
    assert _verify(capsys, ref, "--policy", str(policy), "--cache", str(cache)) == cold
    fetched = real_registry.server.requests_since(mark)
    assert len(fetched) == len(blobs)  # every poisoned entry was a miss, fetched once
    for path in blobs:  # and replaced by the verified content
        Digest.parse(f"sha256:{path.name}").verify(path.read_bytes())


def test_cache_info_of_redis(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "info", "--cache", redis_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"cache: {redis_url}\n")
    assert "(verdict caching off: no HMAC key)" in out
    assert "maxmemory-policy allkeys-lru; every key has a TTL" in out
