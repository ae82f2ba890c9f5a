"""Verify many references on one shared client: one report per input, in input order.

At most ``jobs`` verifications run at once, and at most ``window`` results wait to be
emitted behind a slow one, so memory stays flat in the number of inputs. Copies of one
reference (the same image, digest-pinned or by tag, however it is spelled) are verified once
and share the report, held only until its last copy is emitted. Every failure to verify is an
error report for that input (its message, no digest); the audit goes on.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from provcheck.errors import ProvcheckError
from provcheck.oci.reference import parse_reference
from provcheck.report.model import Report, Verdict

if TYPE_CHECKING:
    from provcheck.cache import Cache
    from provcheck.evidence.pack import PackInputs
    from provcheck.evidence.record import Recording
    from provcheck.oci.reference import ImageReference
    from provcheck.policy import Policy
    from provcheck.source.registry import RegistryClient, RegistryOptions

DEFAULT_JOBS: Final = 16
DEFAULT_IMAGE_TIMEOUT: Final = 60.0
REQUESTS_PER_HOST: Final = 3
"""Concurrent requests per registry host of an audit (as regclient does): a fleet of one
registry's images must not look like an attack to it."""
STORE_WINDOW: Final = 900.0
"""Seconds an audit shares the signature-store answers of a digest (``RegistryOptions.
store_window``): every tag of an image already checked in the run reuses its cosign-tag and
referrers lookups, 404s included, instead of asking again (errors are never kept). In memory,
for the run only."""


@dataclass(frozen=True, slots=True)
class AuditCache:
    """The cache of an audit: ``cache`` (also the client's content store) and the exact bytes
    the policy was parsed from (part of every verdict's key)."""

    cache: Cache
    policy_document: bytes


@dataclass(frozen=True, slots=True)
class AuditEvidence:
    """Where an audit writes its evidence packs: one per image, ``directory/sha256-<hex>``,
    with what they share (``inputs``; its instant is the audit's ``now``)."""

    directory: Path
    inputs: PackInputs


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """How an audit runs: ``jobs`` images at once, ``timeout`` seconds of network work per
    image, results held back behind a slow one at most ``window`` (default 4 times ``jobs``),
    rules judged as of ``now`` (default: the clock, per image; cached verdicts are as of now,
    so with ``now`` the verdict cache is not used), ``evidence`` packs written (the verdict
    cache is then not read either: a pack holds what was read); ``attestations_repository``:
    another repository whose signature stores are read too (see
    :attr:`~provcheck.discovery.options.DiscoveryOptions.attestations_repository`)."""

    jobs: int = DEFAULT_JOBS
    timeout: float = DEFAULT_IMAGE_TIMEOUT
    platforms: frozenset[str] = frozenset()
    max_layer_bytes: int | None = None
    window: int | None = None
    now: datetime | None = None
    evidence: AuditEvidence | None = None
    attestations_repository: ImageReference | None = None

    def __post_init__(self) -> None:
        if self.jobs < 1 or (self.window is not None and self.window < 1):
            raise ValueError("jobs and window must be at least 1")


def _key(reference: str) -> str:
    """What copies of one reference share: its canonical spelling."""
    return str(parse_reference(reference))


async def _verify(
    reference: str,
    policy: Policy,
    client: RegistryClient,
    options: AuditOptions,
    cached: AuditCache | None,
) -> Report:
    from provcheck.cache.verify import verify_cached

    try:
        if options.evidence is not None:
            return await _verify_recorded(reference, policy, client, options, options.evidence)
        if cached is not None and options.now is None:  # cached verdicts are as of now
            return await verify_cached(
                reference,
                policy,
                cached.policy_document,
                cached.cache,
                client=client,
                head=True,
                timeout=options.timeout,
                platforms=options.platforms,
                max_layer_bytes=options.max_layer_bytes,
                attestations_repository=options.attestations_repository,
            )
        return await _verify_live(reference, policy, client, options, now=options.now)
    except ProvcheckError as exc:
        message = exc.diagnostics()
    except Exception as exc:  # a bug: this image errors (fail closed), the audit goes on
        message = f"internal error ({type(exc).__name__})"
    return Report.from_error(message, reference=reference, policy=policy.name)


async def _verify_live(
    reference: str,
    policy: Policy,
    client: RegistryClient,
    options: AuditOptions,
    *,
    now: datetime | None,
    record: Recording | None = None,
) -> Report:
    """Verify ``reference`` against the registry, tuned by ``options`` (judged as of ``now``,
    read into ``record`` when given). Raises what :func:`verify_image_async` raises."""
    from provcheck.api import verify_image_async

    return await verify_image_async(
        reference,
        policy,
        client=client,
        timeout=options.timeout,
        platforms=options.platforms,
        max_layer_bytes=options.max_layer_bytes,
        now=now,
        record=record,
        attestations_repository=options.attestations_repository,
    )


async def _verify_recorded(
    reference: str,
    policy: Policy,
    client: RegistryClient,
    options: AuditOptions,
    evidence: AuditEvidence,
) -> Report:
    """Verify ``reference``, recording it, and write its pack (none without a digest). Raises
    what :func:`verify_image_async` raises, and :class:`UsageError` when the pack cannot be
    written (the image is then an error: its evidence was asked for)."""
    from provcheck.evidence.pack import pack_name, save_pack
    from provcheck.evidence.record import Recording

    recording = Recording()
    report = await _verify_live(
        reference, policy, client, options, now=evidence.inputs.at, record=recording
    )
    if report.digest:
        path = evidence.directory / pack_name(report.digest)
        await asyncio.to_thread(save_pack, path, recording, report, evidence.inputs)
    return report


async def audit_stream(
    references: Sequence[str],
    policy: Policy,
    client: RegistryClient,
    options: AuditOptions,
    cached: AuditCache | None = None,
) -> AsyncIterator[Report]:
    """The report of every reference, in order; each report's ``reference`` is the input's
    string exactly as given. With ``cached`` (whose cache should be ``client``'s store), a tag
    is resolved by ``HEAD`` and verdicts are read from and written to the cache."""
    keys = [_key(ref) for ref in references]
    copies_left = Counter(keys)
    gate = asyncio.Semaphore(options.jobs)
    window = options.window or 4 * options.jobs
    flights: dict[str, asyncio.Task[Report]] = {}
    pending: deque[tuple[str, str, asyncio.Task[Report]]] = deque()

    async def one(reference: str) -> Report:
        async with gate:
            return await _verify(reference, policy, client, options, cached)

    async def emit() -> Report:
        reference, key, task = pending.popleft()
        report = await task
        copies_left[key] -= 1
        if not copies_left[key]:
            del flights[key], copies_left[key]
        return replace(report, reference=reference)

    try:
        for reference, key in zip(references, keys, strict=True):
            task = flights.get(key)
            if task is None:
                task = flights[key] = asyncio.create_task(one(reference))
            pending.append((reference, key, task))
            while len(pending) >= window:
                yield await emit()
        while pending:
            yield await emit()
    finally:
        for task in flights.values():
            task.cancel()


def run_audit(
    references: Sequence[str],
    policy: Policy,
    sink: Callable[[Report], None],
    *,
    registry: RegistryOptions | None = None,
    options: AuditOptions | None = None,
    cache: Callable[[], Cache] | None = None,
    policy_document: bytes = b"",
) -> Counter[Verdict]:
    """Audit ``references`` on one client of ``registry`` options, handing each report to
    ``sink`` in input order; returns how many of each verdict there were. ``cache`` opens the
    cache of the run (closed at its end); ``policy_document`` is what ``policy`` was parsed
    from."""
    from provcheck.source.registry import RegistryClient

    tally: Counter[Verdict] = Counter()

    async def drain() -> None:
        opened = cache() if cache is not None else None
        cached = AuditCache(opened, policy_document) if opened is not None else None
        try:
            async with RegistryClient(registry, store=opened) as client:
                stream = audit_stream(references, policy, client, options or AuditOptions(), cached)
                async for report in stream:
                    tally[report.verdict] += 1
                    sink(report)
        finally:
            if opened is not None:
                await opened.aclose()

    asyncio.run(drain())
    return tally


def worst(tally: Counter[Verdict]) -> Verdict:
    """``error`` if any image errored, else ``fail`` if any failed, else ``pass``."""
    if tally[Verdict.ERROR]:
        return Verdict.ERROR
    return Verdict.FAIL if tally[Verdict.FAIL] else Verdict.PASS
