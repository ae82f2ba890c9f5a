"""``verify --cache``: a verification that reads content and verdicts from a cache.

A digest-pinned reference whose verdict is cached is answered without any request; a tag costs
the one request that resolves it (a ``GET``, or for an audit a ``HEAD``). Everything else is the
uncached verification, with the cache as the registry client's content store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from provcheck._internal.clock import evaluation_time
from provcheck.cache.verdicts import (
    VerdictInputs,
    cacheable,
    evaluation_options,
    rebind,
    trust_inputs,
    verdict_expiry,
    verdict_key,
)
from provcheck.oci.digest import Digest
from provcheck.oci.reference import ImageReference, parse_reference
from provcheck.source.deadline import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from provcheck.cache import Cache
    from provcheck.discovery.offload import Offload
    from provcheck.policy import Policy
    from provcheck.report import Report
    from provcheck.source.registry import RegistryClient, RegistryOptions


CLOCK_SKEW: Final = timedelta(seconds=5)
"""How far ``now`` may be from the clock for cached verdicts to be read and kept."""


def _inputs(
    ref: ImageReference,
    digest: Digest,
    policy: Policy,
    document: bytes,
    platforms: frozenset[str],
    max_layer_bytes: int | None,
    elsewhere: ImageReference | None = None,
) -> VerdictInputs:
    looked_in = (ref.name,) if elsewhere is None else (ref.name, elsewhere.name)
    return VerdictInputs(
        digest=digest,
        policy_document=document,
        trust=trust_inputs(policy),
        pinned=ref.digest is not None,
        repositories=looked_in,
        options=evaluation_options(policy, platforms, max_layer_bytes),
    )


async def verify_cached(
    reference: str,
    policy: Policy,
    policy_document: bytes,
    cache: Cache,
    *,
    registry: RegistryOptions | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    platforms: frozenset[str] = frozenset(),
    max_layer_bytes: int | None = None,
    now: datetime | None = None,
    client: RegistryClient | None = None,
    head: bool = False,
    resolved: Digest | None = None,
    on_lookup: Callable[[bool], None] | None = None,
    offload: Offload = False,
    attestations_repository: ImageReference | None = None,
) -> Report:
    """Verify ``reference`` against ``policy`` (parsed from ``policy_document``) as
    :func:`~provcheck.api.verify_image_async` does, with ``cache`` for content and verdicts.

    ``client`` (its store should be ``cache``) is used and left open; by default one is made
    for the call. With ``head`` a tag is resolved by ``HEAD`` (see
    :meth:`~provcheck.source.registry.RegistrySource.head`), else by ``GET``; ``resolved`` is
    the digest the caller already resolved the tag to on ``client`` (by ``HEAD``: no request
    resolves it again). ``on_lookup`` is told whether each verdict lookup was a hit; ``offload``
    says where signatures are verified, large statements parsed and the policy evaluated
    (``DiscoveryOptions.offload``); ``attestations_repository`` as in :func:`verify_image` (it is
    part of the verdict's key). A layout reference is verified without the cache. Verdicts are
    read and kept only when ``now`` is the clock (``None``, or within :data:`CLOCK_SKEW` of
    it): a verdict is as of when it was computed, so another instant is evaluated afresh.
    Raises what ``verify_image_async`` raises; a cache that fails is a miss.
    """
    verdicts_on = now is None or abs(evaluation_time(now) - datetime.now(UTC)) <= CLOCK_SKEW
    ref = parse_reference(reference)
    if not isinstance(ref, ImageReference):
        from provcheck.api import verify_image_async

        return await verify_image_async(
            ref,
            policy,
            timeout=timeout,
            platforms=platforms,
            max_layer_bytes=max_layer_bytes,
            now=now,
            attestations_repository=attestations_repository,
        )
    shown = str(ref)
    if ref.digest is not None and verdicts_on:
        key = verdict_key(
            _inputs(
                ref,
                ref.digest,
                policy,
                policy_document,
                platforms,
                max_layer_bytes,
                attestations_repository,
            )
        )
        hit = await cache.verdicts.get(key)
        usable = hit is not None and hit.digest == str(ref.digest)
        if on_lookup is not None:
            on_lookup(usable)
        if hit is not None and usable:
            return rebind(hit, shown)
    # Imported only on a miss: a cached verdict of a pinned reference needs no HTTP stack.
    from provcheck.api import evaluate_async, inspect_image_async, verification_options
    from provcheck.source.registry import RegistryClient as Client

    def key_of(digest: Digest) -> str:
        """The verdict key of ``ref`` at ``digest``: looked up and stored alike."""
        elsewhere, layer_cap = attestations_repository, max_layer_bytes
        inputs = _inputs(ref, digest, policy, policy_document, platforms, layer_cap, elsewhere)
        return verdict_key(inputs)

    started = time.monotonic()
    async with AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(Client(registry, store=cache))
        if ref.digest is None:
            from provcheck.source.deadline import Deadline

            digest = resolved
            if digest is None:
                deadline = Deadline(timeout)
                async with deadline.enforce():
                    source = client.source(ref, deadline=deadline)
                    digest = await source.head(ref.api_reference) if head else None
                    if digest is None:
                        digest = (await source.resolve(ref.api_reference))[0].digest
            if verdicts_on:
                hit = await cache.verdicts.get(key_of(digest))
                usable = hit is not None and hit.digest == str(digest)
                if on_lookup is not None:
                    on_lookup(usable)
                if hit is not None and usable:
                    return rebind(hit, shown)
        options = replace(verification_options(policy), offload=offload)
        if max_layer_bytes is not None:
            options = replace(options, max_layer_bytes=max_layer_bytes)
        if attestations_repository is not None:
            options = replace(
                options, attestations_repository=attestations_repository, signature_stores=True
            )
        left = max(timeout - (time.monotonic() - started), 0.001)
        found = await inspect_image_async(ref, options=options, client=client, timeout=left)
    moment = evaluation_time(now)
    report = await evaluate_async(found, policy, now=moment, platforms=platforms, offload=offload)
    if verdicts_on and cacheable(report):
        expires = verdict_expiry(found, policy, moment, stores=options.signature_stores)
        if expires is not None:
            digest = Digest.parse(report.digest)
            key = key_of(digest)
            await cache.verdicts.put(key, report, expires)
    return report
