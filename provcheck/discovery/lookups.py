"""How the referrers of each digest were listed: the referrers API, or its fallback tag.

Discovery records one :class:`StoreLookup` per digest (and repository) whose signature stores
it read, so that a reader can tell "the API answered" from "the registry has no referrers API
(an OCI layout has none either), the ``sha256-<hex>`` tag was read instead" and what it held.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from provcheck.discovery.model import StoreLocation
from provcheck.oci.digest import Digest


class ReferrersAnswer(StrEnum):
    """How the referrers of a digest were listed."""

    API = "api"
    """The OCI 1.1 referrers API answered."""
    FALLBACK_TAG = "fallback-tag"
    """The API is not served (404 and the like; an OCI layout has none): the ``sha256-<hex>``
    fallback tag was read instead."""


@dataclass(frozen=True, slots=True)
class StoreLookup:
    """What listing the referrers of one digest gave."""

    digest: Digest
    referrers: ReferrersAnswer
    listed: int | None
    """Descriptors listed (by the API or the fallback tag); ``None``: there is no fallback tag
    (or it is not an index)."""
    store: StoreLocation = StoreLocation.IMAGE
    """The repository whose referrers were listed."""

    @property
    def sort_key(self) -> tuple[str, str]:
        """(repository, digest): the order lookups are reported in."""
        return self.store.value, str(self.digest)


def lookup_dict(x: StoreLookup) -> dict[str, Any]:
    """``{"digest", "referrers", "listed", "store"}``."""
    return {
        "digest": str(x.digest),
        "referrers": x.referrers.value,
        "listed": x.listed,
        "store": x.store.value,
    }


def lookups_from(items: Iterable[dict[str, Any]]) -> tuple[StoreLookup, ...]:
    """The lookups :func:`lookup_dict` wrote, their shape and enum values already checked by
    the caller's schema. Raises :class:`ManifestError` for a malformed digest."""
    return tuple(
        StoreLookup(
            Digest.parse(x["digest"]),
            ReferrersAnswer(x["referrers"]),
            x["listed"],
            StoreLocation(x["store"]),
        )
        for x in items
    )
