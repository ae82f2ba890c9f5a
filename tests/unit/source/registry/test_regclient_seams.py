"""The seams of RegistryClient: content store, single-flight, request limiter, client bound.

Concurrency, rate limits and poisoned stores are faults a real registry cannot produce on
demand, so the network is an ``httpx.MockTransport`` whose handler records each request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from provcheck.errors import (
    DeadlineExceededError,
    ManifestError,
    NotFoundError,
    RegistryHTTPError,
    UsageError,
)
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference
from provcheck.source.deadline import Deadline
from provcheck.source.limiter import HostLimiter
from provcheck.source.registry import RegistryClient, RegistryOptions, StaticCredentials
from provcheck.source.store import MemoryStore

BLOB = b"0123456789" * 100
BLOB_DESC = Descriptor(mt.IN_TOTO, Digest.of(BLOB), len(BLOB))
INDEX = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}).encode()
INDEX_DESC = Descriptor(mt.OCI_INDEX, Digest.of(INDEX), len(INDEX))
REF = ImageReference.parse("registry.example.com/lab/x:1")

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class _Server:
    """Serves BLOB, INDEX (by digest and as tag ``1``) and 404 for anything else, after
    ``delay`` seconds; records each request with its arrival time."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[tuple[float, str]] = []
        self.in_flight = 0
        self.peak = 0
        self.script: list[httpx.Response] = []
        self.blobs: dict[str, bytes] = {str(BLOB_DESC.digest): BLOB}

    def add(self, data: bytes) -> Descriptor:
        """Serve ``data`` as a blob; return its descriptor."""
        descriptor = Descriptor(mt.IN_TOTO, Digest.of(data), len(data))
        self.blobs[str(descriptor.digest)] = data
        return descriptor

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((asyncio.get_running_loop().time(), request.url.path))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.script:
            return self.script.pop(0)
        path = request.url.path
        blob = self.blobs.get(path.rsplit("/", 1)[1]) if "/blobs/" in path else None
        if blob is not None:
            return httpx.Response(200, content=blob)
        if path.endswith((f"/manifests/{INDEX_DESC.digest}", "/manifests/1")):
            return httpx.Response(200, content=INDEX, headers={"Content-Type": mt.OCI_INDEX})
        return httpx.Response(404)

    @property
    def paths(self) -> list[str]:
        return [path for _, path in self.seen]


def _client(
    tmp_path: Path, server: _Server, store: MemoryStore | None = None, **options: float
) -> RegistryClient:
    settings = RegistryOptions(
        docker_config_dir=tmp_path,
        backoff_base=0.0,
        max_retry_after=5.0,
        **options,  # type: ignore[arg-type]
    )
    return RegistryClient(settings, store=store, transport=httpx.MockTransport(server))


class _PoisonedStore:
    """A store that returns other bytes than it was given, and records what it was given."""

    def __init__(self) -> None:
        self.puts: list[tuple[Digest, bytes]] = []

    async def get(self, digest: Digest) -> bytes | None:
        return b'{"schemaVersion":2,"mediaType":"' + mt.OCI_INDEX.encode() + b'","manifests":[]} '

    async def put(self, digest: Digest, data: bytes) -> None:
        self.puts.append((digest, data))


def test_a_poisoned_store_is_a_logged_miss_and_the_content_is_fetched(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="provcheck.store")
    server = _Server()
    store = _PoisonedStore()
    settings = RegistryOptions(docker_config_dir=tmp_path)

    async def run() -> None:
        transport = httpx.MockTransport(server)
        async with RegistryClient(settings, store=store, transport=transport) as client:
            source = client.source(REF)
            assert await source.fetch_blob(BLOB_DESC, 1 << 20) == BLOB
            assert await source.fetch_manifest(INDEX_DESC) == INDEX
            assert await source.resolve(INDEX_DESC.digest) == (INDEX_DESC, INDEX)

    asyncio.run(run())
    assert server.paths == [
        f"/v2/lab/x/blobs/{BLOB_DESC.digest}",
        f"/v2/lab/x/manifests/{INDEX_DESC.digest}",
        f"/v2/lab/x/manifests/{INDEX_DESC.digest}",
    ]
    assert store.puts == [
        (BLOB_DESC.digest, BLOB),
        (INDEX_DESC.digest, INDEX),
        (INDEX_DESC.digest, INDEX),
    ]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3 and all("do not match its digest" in w for w in warnings)


def test_content_is_read_from_the_store_by_digest_in_any_repository(tmp_path: Path) -> None:
    server = _Server()
    store = MemoryStore()

    async def run() -> None:
        async with _client(tmp_path, server, store) as client:
            source = client.source(REF)
            other = client.source(ImageReference.parse("registry.example.com/lab/other:1"))
            await source.resolve("1")
            assert len(store) == 0  # a tag's answer is never stored
            assert await source.fetch_blob(BLOB_DESC, 1 << 20) == BLOB
            assert await other.fetch_blob(BLOB_DESC, 1 << 20) == BLOB
            assert await source.fetch_manifest(INDEX_DESC) == INDEX
            assert await other.fetch_manifest(INDEX_DESC) == INDEX
            assert await other.resolve(str(INDEX_DESC.digest)) == (INDEX_DESC, INDEX)
            assert client.requests_made == 3
            # Stored bytes that declare another media type than the descriptor: fetched, and
            # the registry's answer decides.
            wrong_type = Descriptor(mt.OCI_MANIFEST, INDEX_DESC.digest, INDEX_DESC.size)
            with pytest.raises(ManifestError, match="served as"):
                await other.fetch_manifest(wrong_type)
            assert client.requests_made == 4

    asyncio.run(run())
    assert store.size == len(BLOB) + len(INDEX)


def test_concurrent_fetches_of_one_digest_share_one_request(tmp_path: Path) -> None:
    server = _Server(delay=0.05)
    tenant = StaticCredentials({})

    async def run() -> None:
        async with _client(tmp_path, server, MemoryStore(0)) as client:
            source = client.source(REF)
            other = client.source(ImageReference.parse("registry.example.com/lab/other:1"))
            separate = client.source(REF, credentials=tenant)
            results = await asyncio.gather(
                *(source.fetch_blob(BLOB_DESC, 1 << 20) for _ in range(10)),
                *(other.fetch_blob(BLOB_DESC, 1 << 20) for _ in range(3)),
                *(separate.fetch_blob(BLOB_DESC, 1 << 20) for _ in range(3)),
                *(source.fetch_manifest(INDEX_DESC) for _ in range(5)),
            )
            assert results == [BLOB] * 16 + [INDEX] * 5

    asyncio.run(run())
    # One per repository and credential provider: a blob readable in one repository may not
    # be readable in another, and a tenant never rides on another tenant's credentials.
    assert sorted(server.paths) == sorted(
        [
            f"/v2/lab/x/blobs/{BLOB_DESC.digest}",
            f"/v2/lab/other/blobs/{BLOB_DESC.digest}",
            f"/v2/lab/x/blobs/{BLOB_DESC.digest}",
            f"/v2/lab/x/manifests/{INDEX_DESC.digest}",
        ]
    )


def test_a_tag_answer_and_its_absence_are_shared_within_the_window(tmp_path: Path) -> None:
    """(Store tags and referrers have their own window, ``store_window``: here the same.)"""
    server = _Server(delay=0.02)

    async def run() -> None:
        async with _client(tmp_path, server, tag_window=0.3, store_window=0.3) as client:
            source = client.source(REF)
            answers = await asyncio.gather(*(source.resolve("1") for _ in range(5)))
            assert answers == [(INDEX_DESC, INDEX)] * 5
            assert await source.resolve("1") == (INDEX_DESC, INDEX)  # within the window
            assert [await source.fetch_tag("absent") for _ in range(3)] == [None] * 3
            assert await source.referrers(INDEX_DESC.digest) is None
            assert await source.referrers(INDEX_DESC.digest) is None
            assert client.requests_made == 3
            await asyncio.sleep(0.35)
            await source.resolve("1")
            assert await source.fetch_tag("absent") is None
            assert client.requests_made == 5

    asyncio.run(run())


def test_an_error_is_shared_with_the_waiting_callers_and_not_kept(tmp_path: Path) -> None:
    server = _Server(delay=0.05)
    server.script = [httpx.Response(500)]

    async def run() -> None:
        async with _client(tmp_path, server, max_retries=0) as client:
            source = client.source(REF)
            results = await asyncio.gather(
                *(source.fetch_blob(BLOB_DESC, 1 << 20) for _ in range(4)),
                return_exceptions=True,
            )
            assert all(isinstance(r, RegistryHTTPError) and r.status_code == 500 for r in results)
            assert client.requests_made == 1
            assert await source.fetch_blob(BLOB_DESC, 1 << 20) == BLOB
            assert client.requests_made == 2

    asyncio.run(run())


def test_a_caller_whose_deadline_runs_out_leaves_the_fetch_to_the_others(
    tmp_path: Path,
) -> None:
    server = _Server(delay=0.4)

    async def run() -> None:
        async with _client(tmp_path, server) as client:
            hurried = Deadline(0.1)
            patient = client.source(REF)

            async def hurry() -> bytes:
                async with hurried.enforce():
                    return await client.source(REF, deadline=hurried).fetch_blob(BLOB_DESC, 1 << 20)

            results = await asyncio.gather(
                hurry(), patient.fetch_blob(BLOB_DESC, 1 << 20), return_exceptions=True
            )
            assert isinstance(results[0], DeadlineExceededError)
            assert results[0].host == "registry.example.com"
            assert results[0].pending == f"GET blob {BLOB_DESC.digest.short}"
            assert results[1] == BLOB
            assert client.requests_made == 1
            assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(run())


def test_a_429_retry_after_pauses_the_host_for_every_request(tmp_path: Path) -> None:
    server = _Server()
    server.script = [httpx.Response(429, headers={"Retry-After": "1"})]
    first, second = server.add(b"first"), server.add(b"second")

    async def run() -> tuple[float, float]:
        async with _client(tmp_path, server) as client:
            source = client.source(REF)
            loop = asyncio.get_running_loop()
            started = loop.time()

            async def later() -> bytes:
                await asyncio.sleep(0.2)  # after the 429 arrived
                return await source.fetch_blob(second, 1 << 20)

            await asyncio.gather(source.fetch_blob(first, 1 << 20), later())
            # A caller whose deadline ends before the pause does gives up at once.
            await client.limiter.pause("registry.example.com", 5)
            hurried = Deadline(1)
            began = loop.time()
            with pytest.raises(DeadlineExceededError, match="rate-limited"):
                async with hurried.enforce():
                    await client.source(REF, deadline=hurried).fetch_blob(BLOB_DESC, 1 << 20)
            return started, loop.time() - began

    started, gave_up_after = asyncio.run(run())
    times = {path.rsplit("/", 1)[1]: when - started for when, path in server.seen[1:]}
    assert len(server.seen) == 3  # 429, then each blob once
    assert times[str(first.digest)] >= 0.99 and times[str(second.digest)] >= 0.99, times
    assert gave_up_after < 0.5


def test_requests_per_host_are_limited_for_every_reader(tmp_path: Path) -> None:
    server = _Server(delay=0.05)

    async def run() -> None:
        async with _client(tmp_path, server, MemoryStore(0), max_requests_per_host=2) as client:
            sources = [
                client.source(ImageReference.parse(f"registry.example.com/lab/r{i}:1"))
                for i in range(4)
            ]
            blobs = [server.add(f"b{i}".encode()) for i in range(3)]
            await asyncio.gather(*(s.fetch_blob(b, 1 << 20) for s in sources for b in blobs))

    asyncio.run(run())
    assert (len(server.seen), server.peak) == (12, 2)


def test_idle_clients_beyond_the_bound_are_closed(tmp_path: Path) -> None:
    server = _Server()

    async def run() -> None:
        settings = RegistryOptions(docker_config_dir=tmp_path)
        transport = httpx.MockTransport(server)
        async with RegistryClient(settings, transport=transport, max_clients=2) as client:
            opened: list[httpx.AsyncClient] = []
            for host in ("a.example", "b.example", "c.example", "b.example"):
                source = client.source(ImageReference.parse(f"{host}/lab/x:1"))
                await source.fetch_blob(BLOB_DESC, 1 << 20)
                opened.append(client.http_client(host))
                await client.store.put(BLOB_DESC.digest, b"")  # (a miss again next time)
            assert len(client._clients) == 2
            assert [c.is_closed for c in opened] == [True, False, False, False]
            assert opened[1] is opened[3]  # still open: used again, not recreated

    asyncio.run(run())


def test_a_fetch_in_another_repository_serves_through_the_store_unless_it_fails(
    tmp_path: Path,
) -> None:
    server = _Server(delay=0.05)
    hidden = server.add(b"readable in lab/other only")

    async def run() -> None:
        async with _client(tmp_path, server) as client:
            x = client.source(REF)
            other = client.source(ImageReference.parse("registry.example.com/lab/other:1"))
            shared = await asyncio.gather(
                x.fetch_blob(BLOB_DESC, 1 << 20), other.fetch_blob(BLOB_DESC, 1 << 20)
            )
            assert list(shared) == [BLOB, BLOB]
            server.script = [httpx.Response(404)]  # lab/x may not read it: lab/other fetches
            results = await asyncio.gather(
                x.fetch_blob(hidden, 1 << 20),
                other.fetch_blob(hidden, 1 << 20),
                return_exceptions=True,
            )
            assert isinstance(results[0], NotFoundError)
            assert results[1] == b"readable in lab/other only"

    asyncio.run(run())
    assert server.paths == [
        f"/v2/lab/x/blobs/{BLOB_DESC.digest}",
        f"/v2/lab/x/blobs/{hidden.digest}",
        f"/v2/lab/other/blobs/{hidden.digest}",
    ]


@pytest.mark.parametrize(
    "bad", [{"max_requests_per_host": 0}, {"tag_window": -1.0}, {"store_window": -1.0}]
)
def test_invalid_limits_are_usage_errors(bad: dict[str, float]) -> None:
    with pytest.raises(UsageError, match="max_requests_per_host must be >= 1, tag_window >= 0"):
        RegistryOptions(**bad)  # type: ignore[arg-type]


def test_the_defaults_are_shared_by_every_reader(tmp_path: Path) -> None:
    client = RegistryClient(RegistryOptions(docker_config_dir=tmp_path))
    assert isinstance(client.store, MemoryStore) and client.store.max_bytes == 256 * 1024 * 1024
    assert isinstance(client.limiter, HostLimiter) and client.limiter.per_host == 6
    assert client.options.tag_window == 2.0
    asyncio.run(client.aclose())


def test_clients_in_use_are_never_closed_and_go_once_idle(tmp_path: Path) -> None:
    server = _Server(delay=0.05)

    async def run() -> None:
        settings = RegistryOptions(docker_config_dir=tmp_path)
        transport = httpx.MockTransport(server)
        async with RegistryClient(
            settings, store=MemoryStore(0), transport=transport, max_clients=1
        ) as client:
            hosts = ("a.example", "b.example")
            sources = [client.source(ImageReference.parse(f"{h}/lab/x:1")) for h in hosts]
            assert await asyncio.gather(*(s.fetch_blob(BLOB_DESC, 1 << 20) for s in sources))
            busy_then = [client.http_client(h) for h in hosts]
            assert len(client._clients) == 2 and not any(c.is_closed for c in busy_then)
            third = client.source(ImageReference.parse("c.example/lab/x:1"))
            await third.fetch_blob(BLOB_DESC, 1 << 20)
            assert all(c.is_closed for c in busy_then) and list(client._clients) == ["c.example"]

    asyncio.run(run())
