"""The cache directory: verified reads, atomic writes from several processes (one of them
killed mid-write), the size bound, and sealed verdicts (forged or copied entries are misses)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from provcheck.cache.disk import DiskStore, is_private
from provcheck.cache.verdicts import ENTRY_MAGIC, seal
from provcheck.oci.digest import Digest
from provcheck.report.model import Report, RuleResult, Status
from provcheck.source.store import read_verified
from tests.paths import REPO_ROOT

SECRET = b"0123456789abcdef-test-key"


def _report(status: Status = Status.PASS, digest: str = "sha256:" + "a" * 64) -> Report:
    return Report(
        policy="p",
        reference="127.0.0.1:5000/lab/x:1",
        digest=digest,
        results=(RuleResult("provenance", status, "linux/amd64", "provenance is present"),),
    )


def _later(hours: float = 1) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def test_content_round_trips_in_private_files(tmp_path: Path) -> None:
    store = DiskStore(tmp_path / "c")
    data = b'{"schemaVersion": 2}'
    digest = Digest.of(data)

    async def run() -> None:
        assert await store.get(digest) is None
        await store.put(digest, data)
        assert await store.get(digest) == data
        assert await read_verified(store, digest, "test", len(data)) == data

    asyncio.run(run())
    path = store.blob_path(digest)
    assert path == tmp_path / "c" / "blobs" / "sha256" / digest.hex[:2] / digest.hex
    assert path.stat().st_mode & 0o777 == 0o600
    assert is_private(tmp_path / "c")


@pytest.mark.parametrize("damage", ["poisoned", "truncated", "empty"])
def test_a_damaged_entry_is_a_miss_and_is_replaced(tmp_path: Path, damage: str) -> None:
    store = DiskStore(tmp_path)
    data = os.urandom(4096)
    digest = Digest.of(data)
    path = store.blob_path(digest)
    asyncio.run(store.put(digest, data))
    path.write_bytes({"poisoned": b"evil" * 1024, "truncated": data[:100], "empty": b""}[damage])

    async def run() -> None:
        assert await store.get(digest) is None
        assert not path.exists()  # removed, so that the next fetch writes it again
        await store.put(digest, data)
        assert await store.get(digest) == data

    asyncio.run(run())


_WRITER = """
import asyncio, sys
from pathlib import Path
from provcheck.cache.disk import DiskStore
from provcheck.oci.digest import Digest
data = bytes(range(256)) * (int(sys.argv[2]) // 256)
store = DiskStore(Path(sys.argv[1]), 1 << 40)
print("ready", flush=True)
for _ in range(int(sys.argv[3])):
    asyncio.run(store.put(Digest.of(data), data))
"""


def _writer(root: Path, size: int, rounds: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), str(size), str(rounds)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_writing_the_same_blob_leave_it_whole(tmp_path: Path) -> None:
    size = 4 * 1024 * 1024
    writers = [_writer(tmp_path, size, 5) for _ in range(2)]
    data = bytes(range(256)) * (size // 256)
    digest = Digest.of(data)
    store = DiskStore(tmp_path, 1 << 40)
    seen = 0
    while any(w.poll() is None for w in writers):
        got = asyncio.run(store.get(digest))
        assert got is None or got == data  # a reader never sees a partial file
        seen += got is not None
    assert [w.wait() for w in writers] == [0, 0]
    assert asyncio.run(store.get(digest)) == data
    leftovers = [p for p in store.blob_path(digest).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_writer_killed_mid_write_corrupts_nothing(tmp_path: Path) -> None:
    size = 120 * 1024 * 1024  # under the cache's 128 MiB entry bound
    data = bytes(range(256)) * (size // 256)
    digest = Digest.of(data)
    store = DiskStore(tmp_path, 1 << 40)
    writer = _writer(tmp_path, size, 1)
    assert writer.stdout is not None
    assert writer.stdout.readline() == "ready\n"
    folder = store.blob_path(digest).parent
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # kill it once its temporary file has some bytes
        temps = list(folder.glob("*.tmp")) if folder.exists() else []
        if temps and temps[0].stat().st_size > 0:
            break
        time.sleep(0.005)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    if store.blob_path(digest).exists():  # it finished first: the whole blob
        assert asyncio.run(store.get(digest)) == data
        pytest.skip("the writer finished its write before the kill")
    assert asyncio.run(store.get(digest)) is None  # a miss, not a partial blob
    (orphan,) = folder.glob("*.tmp")
    assert 0 < orphan.stat().st_size < size
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    assert asyncio.run(store.prune()).removed == 1  # the orphan of the killed writer
    asyncio.run(store.put(digest, data))
    assert asyncio.run(store.get(digest)) == data


def test_the_size_bound_prunes_the_least_recently_used(tmp_path: Path) -> None:
    store = DiskStore(tmp_path, max_bytes=10_000)
    blobs = [bytes([i]) * 3000 for i in range(3)]
    digests = [Digest.of(b) for b in blobs]

    async def run() -> None:
        for i, (digest, blob) in enumerate(zip(digests, blobs, strict=True)):
            await store.put(digest, blob)
            old = time.time() - 1000 + i * 100
            os.utime(store.blob_path(digest), (old, old))
        assert await store.get(digests[0]) == blobs[0]  # used now: the newest
        fourth = b"\x09" * 3000
        await store.put(Digest.of(fourth), fourth)  # 12,000 bytes: prune to 9,000
        assert await store.get(digests[1]) is None  # the least recently used went
        assert await store.get(digests[0]) == blobs[0]
        info = await store.info()
        assert (info.blobs, info.blob_bytes) == (3, 9000)

    asyncio.run(run())


def test_verdicts_round_trip_and_errors_are_never_kept(tmp_path: Path) -> None:
    store = DiskStore(tmp_path / "c")
    key = "b" * 64

    async def run() -> None:
        await store.verdicts.put(key, _report(), _later())
        assert await store.verdicts.get(key) == _report()
        await store.verdicts.put("c" * 64, _report(Status.ERROR), _later())
        assert await store.verdicts.get("c" * 64) is None
        assert not store.verdict_path("c" * 64).exists()
        error = Report.from_error("unreachable", reference="r", policy="p")
        await store.verdicts.put("d" * 64, error, _later())
        assert not store.verdict_path("d" * 64).exists()

    asyncio.run(run())


def test_an_expired_verdict_is_a_miss_and_pruned(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    key = "e" * 64
    store.verdict_path(key).parent.mkdir(parents=True)
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.verdict_path(key).write_bytes(seal(key, _report(), past, None))
    assert asyncio.run(store.verdicts.get(key)) is None
    assert asyncio.run(store.prune()).removed == 1


def test_with_a_key_a_forged_or_copied_verdict_is_a_miss(tmp_path: Path) -> None:
    store = DiskStore(tmp_path, secret=SECRET)
    key, other = "1" * 64, "2" * 64
    asyncio.run(store.verdicts.put(key, _report(Status.FAIL), _later()))
    entry = store.verdict_path(key).read_bytes()
    assert entry.startswith(ENTRY_MAGIC + b" ")
    assert asyncio.run(store.verdicts.get(key)) == _report(Status.FAIL)
    # fail -> pass in the payload, MAC kept: forged
    forged = entry.replace(b'"status":"fail"', b'"status":"pass"').replace(
        b'"verdict":"fail"', b'"verdict":"pass"'
    )
    forged = forged.replace(b'"fail":1', b'"fail":0').replace(b'"pass":0', b'"pass":1')
    assert forged != entry
    store.verdict_path(key).write_bytes(forged)
    assert asyncio.run(store.verdicts.get(key)) is None
    # sealed without a key, or with another one: forged too
    for secret in (None, b"another-key-of-16-bytes"):
        store.verdict_path(key).write_bytes(seal(key, _report(), _later(), secret))
        assert asyncio.run(store.verdicts.get(key)) is None
    # a genuine entry copied under another key
    store.verdict_path(other).parent.mkdir(parents=True, exist_ok=True)
    store.verdict_path(other).write_bytes(entry)
    assert asyncio.run(store.verdicts.get(other)) is None
    # garbage
    store.verdict_path(key).write_bytes(b"\x00" * 100)
    assert asyncio.run(store.verdicts.get(key)) is None


def test_without_a_key_verdicts_are_kept_only_in_a_private_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    store = DiskStore(shared)
    assert not store.verdicts_enabled
    asyncio.run(store.verdicts.put("f" * 64, _report(), _later()))
    assert not store.verdict_path("f" * 64).exists()
    data = b"content is verified, so it is cached anyway"
    asyncio.run(store.put(Digest.of(data), data))
    assert asyncio.run(store.get(Digest.of(data))) == data
    assert DiskStore(shared, secret=SECRET).verdicts_enabled


def test_the_default_directory_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from provcheck.cache.disk import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "provcheck"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the spec: absolute paths only
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "provcheck"
