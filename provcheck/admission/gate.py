"""The admission decision: verify every image of an ``AdmissionReview`` within a budget, fail
closed, and say how to pin what was verified.

One :class:`Gate` lives as long as the server: one registry client (its connection pools and
tokens), the tag resolutions of the last ``tag_ttl`` seconds, the verifications in flight; every
per-key map of it is bounded (:data:`MAX_TAGS`, :data:`MAX_MEMO`, the client's own), so memory
stays flat however many distinct tags it is asked about. A tag
is resolved by ``HEAD`` at most once per ``tag_ttl`` seconds (concurrent reviews share the
request); its digest is verified through the verdict cache (:func:`verify_cached`); concurrent
reviews of one digest share one verification. An image not verified within the budget is denied
"not verified in time" and its verification goes on in the background (a bounded number of
them), so that the API server's retry finds it verified.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from provcheck._internal.bounded import Lru
from provcheck._internal.secrets import without_userinfo
from provcheck.admission.observer import GateObserver, NullObserver
from provcheck.admission.outcome import (
    ImageResult,
    ImageStatus,
    ReviewOutcome,
    build_outcome,
    from_report,
)
from provcheck.admission.review import AdmissionRequest, parse_review
from provcheck.cache.verdicts import cacheable
from provcheck.cache.verify import verify_cached
from provcheck.errors import ProvcheckError, UsageError
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference
from provcheck.policy.exemptions import Exemption, matching
from provcheck.policy.model import ProvenanceOptions, VsaOptions
from provcheck.report.escape import escape_text
from provcheck.report.model import Report, Verdict
from provcheck.source.deadline import Deadline
from provcheck.source.flight import SharedDeadline, SingleFlight
from provcheck.source.registry import RegistryClient, RegistryOptions

if TYPE_CHECKING:
    from provcheck.cache import Cache
    from provcheck.policy import Policy
    from provcheck.source.registry.credentials import CredentialProvider

MAX_BACKGROUND: Final = 64
"""Verifications left running after their review's budget ran out, at most (more are
cancelled: the retry starts them again)."""
VERIFY_TIMEOUT: Final = 60.0
"""Network budget of one verification, in or out of a review (a review waits ``budget``)."""
WARM_JOBS: Final = 8
"""Images :meth:`Gate.warm` verifies at once."""
VERDICT_MEMO: Final = 10.0
"""Seconds a verdict is kept in memory, in front of the cache (a small fraction of the shortest
cached verdict's life, an hour; never for a policy with ``provenance.max-age`` or
``vsa.max-age``, whose verdicts change with the clock: the cache keeps those exactly as long as
they hold)."""
MAX_MEMO: Final = 4096
"""Verdicts kept in memory at most (least recently used go first)."""
MAX_TAGS: Final = 4096
"""Tag resolutions kept for ``tag_ttl`` at most (least recently used go first: a forgotten tag
is resolved again), so that a gate does not grow with every tag it is asked about."""
PRELOADED: Final = (
    "provcheck.api",
    "provcheck.discovery.buildkit",
    "provcheck.policy.engine",
    "provcheck.policy.rules",
    "provcheck.report.json",
)
"""What a first verification imports (some 800 ms here): imported when a gate is made, so that
the first review does not do it on the event loop, within its budget."""
MAX_IMAGES: Final = 256
"""Distinct images one review may name: more are all denied unverified, without a request (a
Pod spec of 3 MiB could otherwise name some 70,000 images, each a registry request made on
behalf of whoever may create a Pod)."""
INLINE_BODY_BYTES: Final = 256 * 1024
"""Bodies up to this size are parsed on the event loop; larger ones (a 3 MiB body takes some
16 ms) in a worker thread, so that other reviews are answered meanwhile."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WarmResult:
    """The verification of one reference of :meth:`Gate.warm`: its verdict, the digest verified
    (``None`` when none was) and, for an ``error``, why."""

    reference: str
    verdict: Verdict
    digest: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WarmSummary:
    """What :meth:`Gate.warm` verified, one result per distinct reference, in input order."""

    results: tuple[WarmResult, ...]

    def count(self, verdict: Verdict) -> int:
        """How many results have ``verdict``."""
        return sum(1 for r in self.results if r.verdict is verdict)


def _spellings(ref: ImageReference) -> list[str]:
    """What an exemption's image pattern is matched against: never ``name:tag`` alone for an
    image that names a digest (the kubelet pulls the digest, whatever the tag names)."""
    names = [ref.name, str(ref)]  # never ``image`` as written (see policy.exemptions)
    if ref.tag is not None and ref.digest is None:
        names.append(f"{ref.name}:{ref.tag}")
    return list(dict.fromkeys(names))


def _exempt(image: str, paths: tuple[str, ...], exemption: Exemption) -> ImageResult:
    warning = (
        f"{escape_text(image)}: allowed unverified by the exemption {escape_text(exemption.label)}"
        f" (reason: {escape_text(exemption.reason)}; expires {exemption.expires.isoformat()})"
    )
    return ImageResult(image, paths, ImageStatus.EXEMPT, warnings=(warning,), exemption=exemption)


class Gate:
    """Answers ``AdmissionReview`` requests against ``policy`` (parsed from the bytes
    ``policy_document``, part of every cached verdict's key), with ``cache`` for content and
    verdicts (left open by :meth:`aclose`: the caller owns it).

    ``registry`` configures the one registry client (TLS, credentials through
    ``docker_config_dir``, timeouts; ``credentials`` replaces Docker's config). ``budget`` is
    the seconds a review may take, ``tag_ttl`` how long a tag's digest is used before it is
    resolved again (also during a registry outage, never longer), ``clock`` the time exemptions
    and rules are judged at, ``verdict_memo`` how long a verdict is kept in memory in front of
    the cache (see :data:`VERDICT_MEMO`; ``0``: never). Raises :class:`UsageError` for a
    non-positive budget or a negative ``tag_ttl``.
    """

    def __init__(
        self,
        policy: Policy,
        policy_document: bytes,
        cache: Cache,
        *,
        registry: RegistryOptions,
        budget: float = 8.0,
        tag_ttl: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
        observer: GateObserver | None = None,
        credentials: CredentialProvider | None = None,
        max_background: int = MAX_BACKGROUND,
        verify_timeout: float = VERIFY_TIMEOUT,
        verdict_memo: float = VERDICT_MEMO,
        attestations_repository: ImageReference | None = None,
    ) -> None:
        if (
            not budget > 0
            or not verify_timeout > 0
            or min(tag_ttl, max_background, verdict_memo) < 0
        ):
            raise UsageError(
                "budget, verify_timeout must be > 0; tag_ttl, max_background, verdict_memo >= 0"
            )
        # What reads cosign tags and referrers: these rules, or another repository of them.
        stores = {"sbom", "signatures", "vsa"} & set(policy.rules) or attestations_repository
        for name in (*PRELOADED, *(("provcheck.discovery.stores",) if stores else ())):
            importlib.import_module(name)
        self.policy = policy
        self.budget = budget
        self._document = policy_document
        self._cache = cache
        self._clock = clock
        self._observer: GateObserver = observer or NullObserver()
        self._chained = registry.on_request
        self._client = RegistryClient(
            replace(registry, on_request=self._registry_request),
            store=cache,
            credentials=credentials,
        )
        self._heads: SingleFlight[tuple[str, str], Digest] = SingleFlight(
            tag_ttl, max_kept=MAX_TAGS
        )
        self._verifications: SingleFlight[tuple[str, str, bool], Report] = SingleFlight()
        self._background: set[asyncio.Task[Report]] = set()
        self._max_background = max_background
        self._verify_timeout = verify_timeout
        self._elsewhere = attestations_repository
        provenance, vsa = policy.rules.get("provenance"), policy.rules.get("vsa")
        aging = (isinstance(provenance, ProvenanceOptions) and provenance.max_age is not None) or (
            isinstance(vsa, VsaOptions) and vsa.max_age is not None
        )
        self._memo_for = 0.0 if aging else verdict_memo
        self._memo: Lru[tuple[str, str, bool], tuple[Report, float]] = Lru(MAX_MEMO)
        # Warm reviews name the same images again: their parses, and each image's result from
        # the (memoized, so identical) report, are kept rather than made again (CPU per review).
        self._refs: Lru[str, ImageReference] = Lru(MAX_TAGS)
        self._results: Lru[tuple[str, tuple[str, ...], bool], tuple[Report, ImageResult]] = Lru(
            MAX_MEMO
        )
        self._closed = False

    def _registry_request(self, host: str, failed: bool) -> None:
        self._observer.registry_request(host, failed)
        if self._chained is not None:
            self._chained(host, failed)

    @property
    def background(self) -> int:
        """Verifications running after their review's budget ran out."""
        return len(self._background)

    async def review(self, body: bytes, *, mutate: bool) -> ReviewOutcome:
        """The answer to the ``AdmissionReview`` ``body``; with ``mutate``, an allowed answer
        carries a JSONPatch pinning each verified image that names no digest.

        Raises :class:`AdmissionRequestError` when ``body`` is not an ``AdmissionReview``
        (see :func:`~provcheck.admission.review.parse_review`); any other failure denies.
        """
        started = time.monotonic()
        if len(body) <= INLINE_BODY_BYTES:
            request = parse_review(body)
        else:
            request = await asyncio.to_thread(parse_review, body)
        try:
            results = await self._judge(request, started)
        except Exception as exc:  # a bug: deny every image (fail closed)
            why = f"internal error ({type(exc).__name__})"
            results = [
                ImageResult(image, paths, ImageStatus.ERROR, detail=f"{escape_text(image)}: {why}")
                for image, paths in _grouped(request).items()
            ]
        duration = (time.monotonic() - started) * 1000
        return build_outcome(request, results, mutate=mutate, duration_ms=duration)

    async def _judge(self, request: AdmissionRequest, started: float) -> list[ImageResult]:
        groups = _grouped(request)
        if not groups:
            return []
        if len(groups) > MAX_IMAGES:
            detail = f"not verified: the review names {len(groups)} images, over {MAX_IMAGES}"
            return [
                ImageResult(
                    image, paths, ImageStatus.ERROR, detail=f"{escape_text(image)}: {detail}"
                )
                for image, paths in groups.items()
            ]
        now = self._clock()
        results: dict[str, ImageResult] = {}
        tasks: dict[str, tuple[ImageReference, asyncio.Task[Report]]] = {}
        for image, paths in groups.items():
            ref = self._refs.get(image)
            invalid = ""
            if ref is None:
                try:
                    ref = ImageReference.parse(image)
                    self._refs.put(image, ref)
                except ProvcheckError as exc:
                    invalid = exc.diagnostics()
            if ref is None:  # never exempt: a pattern must not match what is no reference
                # Not a reference: it may carry a credential (user:pass@host/app), never shown.
                reason = invalid.replace(repr(image), "the image").replace(image, "the image")
                shown = without_userinfo(image)
                detail = f"{escape_text(shown)}: not verified: {escape_text(reason)}"
                results[image] = ImageResult(image, paths, ImageStatus.ERROR, detail=detail)
                continue
            exemption = (
                matching(self.policy.exemptions, request.namespace, _spellings(ref), now)
                if self.policy.exemptions
                else None
            )
            if exemption is not None:
                self._observer.exemption_used(exemption.label)
                results[image] = _exempt(image, paths, exemption)
            elif (report := self._warm(ref)) is not None:  # no task, no wait: most reviews
                results[image] = self._result(image, paths, ref.digest is not None, report)
            else:
                tasks[image] = (ref, asyncio.create_task(self._verify(ref)))
        if tasks:
            await self._wait(groups, tasks, results, started)
        return [results[image] for image in groups]

    async def _wait(
        self,
        groups: dict[str, tuple[str, ...]],
        tasks: dict[str, tuple[ImageReference, asyncio.Task[Report]]],
        results: dict[str, ImageResult],
        started: float,
    ) -> None:
        left = self.budget - (time.monotonic() - started)
        waiting = {task for _, task in tasks.values()}
        try:
            done, pending = await asyncio.wait(waiting, timeout=max(left, 0.0))
        except BaseException:  # the review was cancelled: its verifications may go on
            for task in waiting:
                self._keep(task)
            raise
        if pending:
            self._observer.budget_exceeded()
        for image, (ref, task) in tasks.items():
            paths = groups[image]
            if task in done:
                results[image] = self._result(image, paths, ref.digest is not None, task.result())
                continue
            self._keep(task)
            detail = (
                f"{escape_text(image)}: not verified in time (budget {self.budget:g} s); "
                "its verification goes on, retry shortly"
            )
            results[image] = ImageResult(image, paths, ImageStatus.LATE, detail=detail)

    def _result(
        self, image: str, paths: tuple[str, ...], pinned: bool, report: Report
    ) -> ImageResult:
        """:func:`from_report`, kept while ``image`` at ``paths`` gets the same ``report``."""
        key = (image, paths, pinned)
        kept = self._results.get(key)
        if kept is not None and kept[0] is report:
            return kept[1]
        result = from_report(image, paths, pinned, report)
        self._results.put(key, (report, result))
        return result

    def _keep(self, task: asyncio.Task[Report]) -> None:
        """Let ``task`` finish in the background, or cancel it when there are too many."""
        if task.done():
            return
        if self._closed or len(self._background) >= self._max_background:
            task.cancel()
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _verify(self, ref: ImageReference) -> Report:
        """The verification report of ``ref`` (an ``error`` report for any failure)."""
        try:
            pinned = ref.digest is not None
            digest = ref.digest if ref.digest is not None else await self._resolve(ref)

            async def run(_: SharedDeadline) -> Report:
                return await verify_cached(
                    str(ref),
                    self.policy,
                    self._document,
                    self._cache,
                    client=self._client,
                    timeout=self._verify_timeout,
                    now=self._clock(),
                    resolved=None if pinned else digest,
                    on_lookup=self._observer.cache_lookup,
                    offload=True,
                    attestations_repository=self._elsewhere,
                )

            key = (ref.name, str(digest), pinned)
            now = asyncio.get_running_loop().time()
            memo = self._memoized(key, now)
            if memo is not None:
                return memo
            report = await self._verifications.run(key, run)
            if self._memo_for > 0 and cacheable(report) and report.digest == str(digest):
                self._memo.put(key, (report, now + self._memo_for))
            return report
        except ProvcheckError as exc:
            message = exc.diagnostics()
        except Exception as exc:  # a bug: this image is not verified (fail closed)
            message = f"internal error ({type(exc).__name__})"
        return Report.from_error(message, reference=str(ref), policy=self.policy.name)

    def _memoized(self, key: tuple[str, str, bool], now: float) -> Report | None:
        """The verdict kept in memory for ``key`` (counted as a cache hit), or ``None``."""
        memo = self._memo.get(key)
        if memo is None or memo[1] <= now:
            return None
        self._observer.cache_lookup(True)
        return memo[0]

    def _warm(self, ref: ImageReference) -> Report | None:
        """``ref``'s verdict when it is at hand without waiting (its tag's digest resolved
        within ``tag_ttl``, the verdict in memory), else ``None``: :meth:`_verify` it."""
        if ref.digest is not None:
            key = (ref.name, str(ref.digest), True)
        else:
            assert ref.tag is not None  # parse() gives a tag or a digest
            digest = self._heads.kept((ref.name, ref.tag))
            if digest is None:
                return None
            key = (ref.name, str(digest), False)
        return self._memoized(key, asyncio.get_running_loop().time())

    async def _resolve(self, ref: ImageReference) -> Digest:
        """The digest of ``ref``'s tag: one ``HEAD`` (``GET`` when the answer names none) at most
        every ``tag_ttl`` seconds, shared by concurrent reviews. Raises what the registry
        client raises."""
        tag = ref.tag
        assert tag is not None  # parse() gives a tag or a digest

        async def head(_: SharedDeadline) -> Digest:
            deadline = Deadline(self._verify_timeout)
            async with deadline.enforce():
                source = self._client.source(ref, deadline=deadline)
                digest = await source.head(tag)
                if digest is None:
                    digest = (await source.resolve(tag))[0].digest
            return digest

        return await self._heads.run((ref.name, tag), head)

    async def warm(self, references: Sequence[str]) -> WarmSummary:
        """Verify ``references`` (``WARM_JOBS`` at once) so that their verdicts are cached;
        never raises for a reference that cannot be verified (its result is an ``error``)."""
        jobs = asyncio.Semaphore(WARM_JOBS)

        async def one(text: str) -> WarmResult:
            try:
                ref = ImageReference.parse(text)
            except ProvcheckError as exc:
                return WarmResult(text, Verdict.ERROR, error=exc.diagnostics())
            async with jobs:
                report = await self._verify(ref)
            return WarmResult(text, report.verdict, report.digest or None, report.error)

        found = await asyncio.gather(*(one(text) for text in dict.fromkeys(references)))
        return WarmSummary(tuple(found))

    async def aclose(self) -> None:
        """Cancel the background verifications and close the registry client (not the cache)."""
        self._closed = True
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await self._client.aclose()


def _grouped(request: AdmissionRequest) -> dict[str, tuple[str, ...]]:
    """Each distinct image of ``request`` and the pointers of the fields naming it, in order."""
    groups: dict[str, list[str]] = {}
    for found in request.images:
        groups.setdefault(found.image, []).append(found.path)
    return {image: tuple(paths) for image, paths in groups.items()}
