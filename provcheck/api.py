"""The library entry points: resolve a reference, discover its attestations, verify a policy.

Nothing here prints or exits. Each function has an async twin for callers that check many
images at once; pass one :class:`RegistryClient` to share connections, tokens and limits
between them. A sync function takes the same keyword arguments as its twin except ``client``:
it runs its own event loop (``asyncio.run``), and a client belongs to the loop it was opened on,
so it opens its own from ``registry`` and ``credentials`` (and cannot be called from a running
event loop: use the twin there). Common to all: ``registry`` (how to reach registries without a
``client``), ``credentials`` (default: the client's, else Docker's ``config.json``), and
``timeout``, which bounds the whole call's network work (connections, requests, retries and
their waits together): when it runs out, everything in flight is cancelled and
:class:`DeadlineExceededError` names the host and the request that was pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from provcheck.discovery.buildkit import discover
from provcheck.discovery.limits import Budget, Limits
from provcheck.discovery.model import ImageAttestations
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.select import select_platforms
from provcheck.errors import UsageError
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import (
    ImageReference,
    LayoutReference,
    Reference,
    parse_reference,
    parse_repository,
)
from provcheck.predicates import PredicateKind
from provcheck.source.base import Source
from provcheck.source.deadline import DEFAULT_TIMEOUT, Deadline

if TYPE_CHECKING:
    # Imported where they are used: a layout needs no HTTP client, inspect needs no policy.
    from provcheck.discovery.offload import Offload
    from provcheck.evidence.record import Recording
    from provcheck.policy import Policy
    from provcheck.report import Report
    from provcheck.sbom.collect import ImageSboms
    from provcheck.source.registry import CredentialProvider, RegistryClient, RegistryOptions


@asynccontextmanager
async def _open(
    reference: Reference,
    client: RegistryClient | None,
    registry: RegistryOptions | None,
    deadline: Deadline,
    credentials: CredentialProvider | None,
    elsewhere: ImageReference | None = None,
    stores: bool = False,
) -> AsyncIterator[tuple[Source, tuple[Descriptor, bytes], Source | None, bool]]:
    """Open the source of ``reference`` and fetch its verified root manifest, and say whether
    it is pinned by digest (named so, or the subject of an evidence pack of a pinned run:
    :meth:`LayoutSource.recorded_pin`); with
    ``elsewhere``, also the source of that repository (on the same client: its registry host's
    credentials, and connections and limits shared). With ``stores``, an evidence pack that
    recorded an attestations repository serves its copy of it, whether ``elsewhere`` is given
    or not (another repository is a :class:`UsageError`: the pack holds what was read)."""
    other: Source | None = None
    pinned = reference.digest is not None
    async with AsyncExitStack() as stack:
        if isinstance(reference, LayoutReference):
            from provcheck.source.layout import LayoutSource

            layout = LayoutSource(reference.path)
            pin: str | Digest | None = reference.digest or reference.tag
            if pin is None:
                root = await layout.resolve_default()
                pinned = layout.recorded_pin() == root[0].digest
            else:
                root = await layout.resolve(pin)
            source: Source = layout
            other = layout.attestations_repository() if stores else None
            if other is not None and elsewhere is not None:
                if elsewhere.name != other.display_name:
                    raise UsageError(
                        f"{layout.display_name} recorded the attestations repository "
                        f"{other.display_name}, not {elsewhere.name}"
                    )
                elsewhere = None  # the pack's copy is read
        else:
            root = None
        if client is None and (root is None or elsewhere is not None):
            from provcheck.source.registry import RegistryClient

            own = RegistryClient(registry, credentials=credentials)
            client = await stack.enter_async_context(own)
            credentials = None  # the client's own, now
        if root is None:
            assert client is not None and isinstance(reference, ImageReference)
            remote = client.source(reference, credentials=credentials, deadline=deadline)
            source, root = remote, await remote.resolve(reference.api_reference)
        if elsewhere is not None:
            assert client is not None
            other = client.source(elsewhere, credentials=credentials, deadline=deadline)
        yield source, root, other, pinned


def _parse(reference: str | Reference) -> Reference:
    return parse_reference(reference) if isinstance(reference, str) else reference


def _asked(reference: Reference, root: tuple[Descriptor, bytes]) -> str | Digest:
    """What the root was resolved from: its tag, else its digest."""
    return reference.digest or reference.tag or root[0].digest


async def inspect_image_async(
    reference: str | Reference,
    *,
    options: DiscoveryOptions | None = None,
    client: RegistryClient | None = None,
    registry: RegistryOptions | None = None,
    credentials: CredentialProvider | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    record: Recording | None = None,
) -> ImageAttestations:
    """Resolve ``reference`` and discover its attestations, as :func:`inspect_image` does.

    With a shared ``client``, a deadline that runs out cancels this call's requests only, and
    ``credentials`` (default: the client's) are used for this call only: tokens fetched with
    other credentials are never sent for it. ``record`` keeps every verified byte read and
    every tag and referrers answer (an evidence pack is written from it). Raises what
    :func:`inspect_image` raises.
    """
    ref = _parse(reference)
    options = options or DiscoveryOptions()
    budget = Budget(options.limits)  # one for the whole image: the index and the stores
    deadline = Deadline(timeout)
    elsewhere = options.attestations_repository if options.signature_stores else None
    stores = options.signature_stores
    opened = _open(ref, client, registry, deadline, credentials, elsewhere, stores)
    async with deadline.enforce(), opened as (source, root, other, pinned):
        if record is not None:
            record.resolved(_asked(ref, root), root)
            source = record.wrap(source)
            other = None if other is None else record.wrap_elsewhere(other)
        found = await discover(
            source, root, reference=str(ref), options=options, pinned=pinned, budget=budget
        )
        # Discovery reads only the platforms wanted, and knows the others from the index.
        if options.signature_stores or options.trust is not None:
            # Trust is decided there, once, also for signed layers of the index.
            from provcheck.discovery.stores import discover_signed

            found = await discover_signed(source, found, options, budget, other)
    # Narrowed once trust is decided: a statement bound to a platform left out is not a problem.
    return select_platforms(found, options.platforms)


def inspect_image(
    reference: str | Reference,
    *,
    options: DiscoveryOptions | None = None,
    registry: RegistryOptions | None = None,
    credentials: CredentialProvider | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    record: Recording | None = None,
) -> ImageAttestations:
    """Resolve ``reference`` (registry or ``oci-layout://``) and discover its attestations.

    ``options`` says what to fetch and how much work the image may cost (``platforms``,
    ``max_layer_bytes``, ``limits``, ``offload``, …). Every byte is checked against its digest
    and size; statements that do not bind to the manifest they were found for are reported in
    ``problems`` and never used. ``timeout`` (seconds, finite, above 0) bounds all of the call's
    network work.
    Raises :class:`InvalidReferenceError` for a bad reference, :class:`UsageError` for a bad
    ``timeout`` or unreadable credentials, :class:`DeadlineExceededError` when it runs out,
    :class:`RegistryError` or :class:`IntegrityError` when the root cannot be fetched,
    :class:`ManifestError` when it is malformed, :class:`LimitExceededError` when it needs more
    work than ``options.limits`` allow, :class:`PlatformNotFoundError` when
    ``options.platforms`` names a platform the image does not have. ``record`` keeps what was
    read (see :func:`inspect_image_async`).
    """
    return asyncio.run(
        inspect_image_async(
            reference,
            options=options,
            registry=registry,
            credentials=credentials,
            timeout=timeout,
            record=record,
        )
    )


def verification_options(policy: Policy) -> DiscoveryOptions:
    """What discovery must fetch for ``policy``.

    Provenance and image configs always; SBOM layers only for an ``sbom`` rule (they can be
    tens of MiB); the stores outside the index (cosign tags, referrers) for an ``sbom`` or
    ``signatures`` rule, trusting the ``signatures`` rule's keys and identities, and nobody
    without them. A policy with only the ``vsa`` rule (the admission fast path) reads no
    attestation layer and no config: only the stores of the root, where a summary of that
    digest is.
    """
    from provcheck.policy.model import SignaturesOptions

    if set(policy.rules) == {"vsa"}:
        return DiscoveryOptions(
            kinds=frozenset(),
            index_attestations=False,
            signature_stores=True,
            image_signatures=False,
            platform_stores=False,
        )
    kinds = {PredicateKind.PROVENANCE}
    if "sbom" in policy.rules:
        kinds.add(PredicateKind.SBOM)
    signatures = policy.rules.get("signatures")
    trust = None
    if isinstance(signatures, SignaturesOptions):
        kinds.update(PredicateKind(name) for name in signatures.attestations)
        trust = signatures.trust() if signatures.keys or signatures.identities else None
    return DiscoveryOptions(
        kinds=frozenset(kinds),
        image_configs=True,
        signature_stores="sbom" in policy.rules or signatures is not None or "vsa" in policy.rules,
        trust=trust,
        image_signatures=signatures is not None,
    )


def _tuned(
    options: DiscoveryOptions,
    max_layer_bytes: int | None,
    limits: Limits | None,
    offload: Offload,
    attestations_repository: str | ImageReference | None = None,
) -> DiscoveryOptions:
    """``options`` with the caller's caps, offload and other repository (``None``: the
    default); naming a repository turns the signature stores on (what else would it be read
    for). Raises :class:`InvalidReferenceError` for a malformed repository name."""
    if attestations_repository is not None:
        repository = (
            parse_repository(attestations_repository)
            if isinstance(attestations_repository, str)
            else attestations_repository
        )
        options = replace(options, attestations_repository=repository, signature_stores=True)
    if max_layer_bytes is not None:
        options = replace(options, max_layer_bytes=max_layer_bytes)
    if limits is not None:
        options = replace(options, limits=limits)
    return replace(options, offload=offload)


async def evaluate_async(
    found: ImageAttestations,
    policy: Policy,
    *,
    now: datetime | None = None,
    platforms: frozenset[str] = frozenset(),
    offload: Offload = False,
) -> Report:
    """:func:`~provcheck.policy.evaluate`, inline or off the event loop as ``offload`` says
    (``DiscoveryOptions.offload``: a policy on a large SBOM is CPU work). Raises what it
    raises."""
    from provcheck.discovery.offload import run_verification
    from provcheck.policy import evaluate

    return await run_verification(offload, evaluate, found, policy, now=now, platforms=platforms)


async def verify_image_async(
    reference: str | Reference,
    policy: Policy,
    *,
    client: RegistryClient | None = None,
    registry: RegistryOptions | None = None,
    credentials: CredentialProvider | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    platforms: frozenset[str] = frozenset(),
    max_layer_bytes: int | None = None,
    limits: Limits | None = None,
    offload: Offload = False,
    now: datetime | None = None,
    record: Recording | None = None,
    attestations_repository: str | ImageReference | None = None,
) -> Report:
    """Discover the attestations of ``reference`` and evaluate ``policy`` on them, as
    :func:`verify_image` does (``client`` and ``record`` as in :func:`inspect_image_async`).

    The policy is evaluated where ``offload`` says (:func:`evaluate_async`). Raises what
    :func:`verify_image` raises.
    """
    options = _tuned(
        verification_options(policy), max_layer_bytes, limits, offload, attestations_repository
    )
    if now is not None and options.trust is not None:
        # A keyless signature logged after ``now`` did not exist then.
        options = replace(options, trust=replace(options.trust, at=now))
    found = await inspect_image_async(
        reference,
        options=options,
        client=client,
        registry=registry,
        credentials=credentials,
        timeout=timeout,
        record=record,
    )
    return await evaluate_async(found, policy, now=now, platforms=platforms, offload=offload)


def verify_image(
    reference: str | Reference,
    policy: Policy,
    *,
    registry: RegistryOptions | None = None,
    credentials: CredentialProvider | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    platforms: frozenset[str] = frozenset(),
    max_layer_bytes: int | None = None,
    limits: Limits | None = None,
    offload: Offload = False,
    now: datetime | None = None,
    record: Recording | None = None,
    attestations_repository: str | ImageReference | None = None,
) -> Report:
    """Verify ``reference`` against ``policy`` and return the report as data.

    The policy decides what is fetched. ``platforms`` narrows the platforms evaluated (the
    ``platforms`` rule still reads the whole index); ``max_layer_bytes`` caps each attestation
    layer (default 64 MiB), ``limits`` the whole image (:class:`Limits`); ``offload`` says where
    signatures are verified (``DiscoveryOptions.offload``); ``now`` is the time the rules
    judge by (the age of a provenance; a keyless signature logged after it is rejected;
    default: the clock, and no signature is rejected for its time); ``record`` keeps what was
    read (see :func:`inspect_image_async`); ``attestations_repository`` (``registry/repository``,
    as cosign's ``COSIGN_REPOSITORY``) is read too for signatures and referrers
    (``DiscoveryOptions.attestations_repository``). Policy violations are results in the
    report, not exceptions. Raises the same errors as :func:`inspect_image` when the image
    itself cannot be read (``timeout`` likewise), and :class:`PlatformNotFoundError` when
    ``platforms`` names a platform the image lacks.
    """
    return asyncio.run(
        verify_image_async(
            reference,
            policy,
            registry=registry,
            credentials=credentials,
            timeout=timeout,
            platforms=platforms,
            max_layer_bytes=max_layer_bytes,
            limits=limits,
            offload=offload,
            now=now,
            record=record,
            attestations_repository=attestations_repository,
        )
    )


async def sbom_image_async(
    reference: str | Reference,
    *,
    client: RegistryClient | None = None,
    registry: RegistryOptions | None = None,
    credentials: CredentialProvider | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    platforms: frozenset[str] = frozenset(),
    max_layer_bytes: int | None = None,
    limits: Limits | None = None,
    offload: Offload = False,
    attestations_repository: str | ImageReference | None = None,
) -> ImageSboms:
    """The SBOMs bound to ``reference``, as :func:`sbom_image` finds them (``client`` as in
    :func:`inspect_image_async`).

    Raises what :func:`sbom_image` raises.
    """
    from provcheck.sbom.collect import image_sboms

    options = DiscoveryOptions(
        kinds=frozenset({PredicateKind.SBOM}), platforms=platforms, signature_stores=True
    )
    found = await inspect_image_async(
        reference,
        options=_tuned(options, max_layer_bytes, limits, offload, attestations_repository),
        client=client,
        registry=registry,
        credentials=credentials,
        timeout=timeout,
    )
    return image_sboms(found)


def sbom_image(
    reference: str | Reference,
    *,
    registry: RegistryOptions | None = None,
    credentials: CredentialProvider | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    platforms: frozenset[str] = frozenset(),
    max_layer_bytes: int | None = None,
    limits: Limits | None = None,
    offload: Offload = False,
    attestations_repository: str | ImageReference | None = None,
) -> ImageSboms:
    """The SBOMs bound to ``reference``: in the index, in cosign attestations and in OCI
    referrers, parsed, with what was found while looking for them.

    ``platforms`` keeps only those platforms; ``max_layer_bytes``, ``limits``, ``offload``,
    ``attestations_repository`` and ``timeout`` work as in :func:`verify_image`. Raises
    :class:`NoSbomError` (carrying the attestations found, whose problems say why) when no
    usable SBOM is bound or none can be read (a malformed SBOM beside readable ones is a
    ``malformed`` problem of the attestations returned), and the errors of :func:`inspect_image`.
    """
    return asyncio.run(
        sbom_image_async(
            reference,
            registry=registry,
            credentials=credentials,
            timeout=timeout,
            platforms=platforms,
            max_layer_bytes=max_layer_bytes,
            limits=limits,
            offload=offload,
            attestations_repository=attestations_repository,
        )
    )


__all__ = [
    "ImageReference",
    "LayoutReference",
    "inspect_image",
    "inspect_image_async",
    "sbom_image",
    "sbom_image_async",
    "verification_options",
    "verify_image",
    "verify_image_async",
]
