"""Signature stores: cosign ``.att``/``.sig`` tags and OCI 1.1 referrers (formats.md §8).

:func:`discover_signed` looks up, for the root, every platform manifest and every in-index
attestation manifest: ``sha256-<hex>.att``, ``sha256-<hex>.sig`` and the referrers (API, then
the ``sha256-<hex>`` fallback tag). Signed statements that verify under the trusted keys and bind
to a platform are added to it as attestation manifests (trust ``signed``); with no trust
configured they are added as ``unsigned``. Everything rejected is a :class:`Problem` and a
:class:`SignedObject` with its reasons, and is never used as evidence.

Referrers that are not signatures are read too (formats.md §4.5, §8.5): raw SBOM documents
(``oras attach --artifact-type application/spdx+json`` or ``application/vnd.cyclonedx+json``)
become synthesised SBOM statements, and unsigned in-toto attestation manifests (BuildKit's
``application/vnd.docker.attestation.manifest.v1+json`` found as a referrer of a platform manifest,
or ``application/vnd.in-toto+json`` artifacts) are read with BuildKit's layer logic. Both are
``unsigned``: whoever can push to the repository can add a referrer. A referrer whose ``subject``
is not exactly (digest, size, media type) the manifest it was listed for is never used; a referrer
of an unknown artifact type is reported (``suspicious``) and ignored.

Layout: :mod:`.found` holds the plain records of what was found, :mod:`.reading` reads the stores
of one target (:class:`~.reading.StoreReader`), :mod:`.trusting` verifies, binds
and applies the threshold (through :mod:`provcheck.attestation.verify`); :func:`discover_signed`
here runs them in turn.
"""

from __future__ import annotations

import asyncio
import dataclasses

from provcheck.discovery.limits import Budget
from provcheck.discovery.model import ImageAttestations, StoreRepository
from provcheck.discovery.offload import run_verification
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.stores.reading import (
    RAW_SBOM_TYPES,
    StoreReader,
    store_targets,
    synthesise_sbom_statement,
)
from provcheck.discovery.stores.trusting import settle
from provcheck.oci.digest import Digest
from provcheck.source.base import Source


async def discover_signed(
    source: Source,
    found: ImageAttestations,
    options: DiscoveryOptions,
    budget: Budget | None = None,
    elsewhere: Source | None = None,
) -> ImageAttestations:
    """Add what the signature stores hold to ``found`` and decide every statement's trust.

    The stores are read when ``options.signature_stores`` (otherwise only the signed layers of
    the index are decided, under ``options.trust``). Problems are recorded, never raised: store
    reads are best effort, and what could not be read or verified is reported and never used.
    ``budget``: the image's budget, shared with :func:`~provcheck.discovery.buildkit.discover`
    (default: a new one); past it the whole image is refused with :class:`LimitExceededError`.
    ``elsewhere``: the source of ``options.attestations_repository``, whose stores are read for
    the same digests too (what is found there is recorded as
    :attr:`StoreRepository.ATTESTATIONS_REPO` and bound by digest like the rest).
    """
    index = found.digest if found.is_index else None
    run = StoreReader(source, options, index, budget)
    readers = [run]
    if elsewhere is not None:
        there = StoreRepository.ATTESTATIONS_REPO
        readers.append(
            StoreReader(elsewhere, options, index, run.budget, found=run.found, repository=there)
        )
    in_index: set[Digest] = set()
    if options.signature_stores:
        targets, in_index = store_targets(found, options)
        await asyncio.gather(*(r.target(t) for r in readers for t in targets.values()))
        run.budget.check()
        run.found.sort()  # read concurrently: report in a fixed order, not arrival order
    settled = await run_verification(
        options.offload, settle, found, run.found, in_index, options.trust
    )
    if elsewhere is None:
        return settled
    return dataclasses.replace(settled, attestations_repository=elsewhere.display_name)


__all__ = ["RAW_SBOM_TYPES", "discover_signed", "synthesise_sbom_statement"]
