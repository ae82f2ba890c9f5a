"""The library entry points: resolve a reference, discover its attestations, verify a policy.

Nothing here prints or exits. Each function has an async twin for callers that check many
images at once; pass one :class:`RegistryClient` to share connections and tokens between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from provcheck.discovery.buildkit import discover
from provcheck.discovery.limits import Budget
from provcheck.discovery.model import ImageAttestations
from provcheck.discovery.options import DiscoveryOptions
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.oci.reference import ImageReference, LayoutReference, Reference, parse_reference
from provcheck.predicates import PredicateKind
from provcheck.source.base import Source
from provcheck.source.layout import LayoutSource

if TYPE_CHECKING:
    # Imported where they are used: a layout needs no HTTP client, inspect needs no policy.
    from provcheck.policy import Policy
    from provcheck.report import Report
    from provcheck.source.registry import RegistryClient, RegistryOptions


@asynccontextmanager
async def _open(
    reference: Reference, client: RegistryClient | None, registry: RegistryOptions | None
) -> AsyncIterator[tuple[Source, tuple[Descriptor, bytes]]]:
    """Open the source of ``reference`` and fetch its verified root manifest."""
    if isinstance(reference, LayoutReference):
        layout = LayoutSource(reference.path)
        pin: str | Digest | None = reference.digest or reference.tag
        root = await (layout.resolve(pin) if pin is not None else layout.resolve_default())
        yield layout, root
        return
    if client is not None:
        remote = client.source(reference)
        yield remote, await remote.resolve(reference.api_reference)
        return
    from provcheck.source.registry import RegistryClient

    async with RegistryClient(registry) as own:
        remote = own.source(reference)
        yield remote, await remote.resolve(reference.api_reference)


def _parse(reference: str | Reference) -> Reference:
    return parse_reference(reference) if isinstance(reference, str) else reference


def _pinned(reference: Reference) -> bool:
    return reference.digest is not None


async def inspect_image_async(
    reference: str | Reference,
    *,
    options: DiscoveryOptions | None = None,
    client: RegistryClient | None = None,
    registry: RegistryOptions | None = None,
) -> ImageAttestations:
    """Resolve ``reference`` and discover its attestations (see :func:`inspect_image`)."""
    ref = _parse(reference)
    options = options or DiscoveryOptions()
    budget = Budget(options.limits)  # one for the whole image: the index and the stores
    async with _open(ref, client, registry) as (source, root):
        found = await discover(
            source, root, reference=str(ref), options=options, pinned=_pinned(ref), budget=budget
        )
        if options.signature_stores or options.trust is not None:
            # Trust is decided there, once, also for signed layers of the index.
            from provcheck.discovery.stores import discover_signed

            found = await discover_signed(source, found, options, budget)
        return found


def inspect_image(
    reference: str | Reference,
    *,
    options: DiscoveryOptions | None = None,
    registry: RegistryOptions | None = None,
) -> ImageAttestations:
    """Resolve ``reference`` (registry or ``oci-layout://``) and discover its attestations.

    Every byte is checked against its digest and size; statements that do not bind to the
    manifest they were found for are reported in ``problems`` and never used.
    Raises :class:`InvalidReferenceError` for a bad reference, :class:`RegistryError` or
    :class:`IntegrityError` when the root cannot be fetched, :class:`ManifestError` when it is
    malformed, :class:`LimitExceededError` when it needs more work than ``options.limits``
    allow.
    """
    return asyncio.run(inspect_image_async(reference, options=options, registry=registry))


def verification_options(policy: Policy) -> DiscoveryOptions:
    """What discovery must fetch for ``policy``.

    Provenance and image configs always; SBOM layers only for an ``sbom`` rule (they can be
    tens of MiB); the stores outside the index (cosign tags, referrers) for an ``sbom`` or
    ``signatures`` rule, trusting the ``signatures`` rule's keys and identities, and nobody
    without them.
    """
    from provcheck.policy.model import SignaturesOptions

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
        signature_stores="sbom" in policy.rules or signatures is not None,
        trust=trust,
        image_signatures=signatures is not None,
    )


async def verify_image_async(
    reference: str | Reference,
    policy: Policy,
    *,
    client: RegistryClient | None = None,
    registry: RegistryOptions | None = None,
    platforms: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Report:
    """Discover the attestations of ``reference`` and evaluate ``policy`` on them."""
    from provcheck.policy import evaluate

    options = verification_options(policy)
    if platforms:
        options = replace(options, platforms=platforms)
    found = await inspect_image_async(reference, options=options, client=client, registry=registry)
    return evaluate(found, policy, now=now)


def verify_image(
    reference: str | Reference,
    policy: Policy,
    *,
    registry: RegistryOptions | None = None,
    platforms: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Report:
    """Verify ``reference`` against ``policy`` and return the report as data.

    Policy violations are results in the report, not exceptions. Raises the same errors as
    :func:`inspect_image` when the image itself cannot be read.
    """
    return asyncio.run(
        verify_image_async(reference, policy, registry=registry, platforms=platforms, now=now)
    )


__all__ = [
    "ImageReference",
    "LayoutReference",
    "inspect_image",
    "inspect_image_async",
    "verification_options",
    "verify_image",
    "verify_image_async",
]
