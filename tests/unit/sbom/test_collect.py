"""``collect_sboms`` and ``sbom_image``: the SBOMs bound to an image, one entry per platform and
attestation, index-scoped ones once (real BuildKit SBOMs of g-sbom-generator, and the real oras
referrers of fixtures/sbom-stores, two of which name the index)."""

from __future__ import annotations

import asyncio

import pytest

from provcheck import (
    DiscoveryOptions,
    ImageSboms,
    NoSbomError,
    PlatformNotFoundError,
    SbomEntry,
    SbomError,
    collect_sboms,
    inspect_image,
    sbom_image,
    sbom_image_async,
)
from provcheck.predicates import PredicateKind
from tests.paths import FIXTURES_DIR, REAL_DIR

G = f"oci-layout://{REAL_DIR / 'g-sbom-generator' / 'oci-layout'}:1"
B_MULTI = f"oci-layout://{REAL_DIR / 'b-multi-max' / 'oci-layout'}:1"
ORAS = f"oci-layout://{FIXTURES_DIR / 'sbom-stores' / 'oras-referrers'}:1"
SBOM_ONLY = DiscoveryOptions(kinds=frozenset({PredicateKind.SBOM}), signature_stores=True)


def _rows(entries: tuple[SbomEntry, ...]) -> list[tuple[str | None, str, int]]:
    return [(e.platform, e.sbom.format.value, len(e.sbom)) for e in entries]


def test_one_entry_per_platform_in_storage_order() -> None:
    entries = collect_sboms(inspect_image(G, options=SBOM_ONLY))
    assert _rows(entries) == [("linux/amd64", "spdx", 25), ("linux/arm64", "spdx", 25)]
    assert all(e.source.endswith("#layers/0") for e in entries)
    assert len({e.source for e in entries}) == 2


def test_an_index_scoped_sbom_is_listed_once_for_every_platform() -> None:
    found = inspect_image(ORAS, options=SBOM_ONLY)
    per_platform = {
        i.platform.key: len(list(i.statements(PredicateKind.SBOM))) for i in found.images
    }
    assert per_platform == {"linux/amd64": 4, "linux/arm64": 2}  # the index's two, twice
    entries = collect_sboms(found)
    assert sorted(_rows(entries), key=str) == sorted(
        [
            (None, "cyclonedx", 3),
            (None, "spdx", 2),
            ("linux/amd64", "cyclonedx", 2),
            ("linux/amd64", "spdx", 1),
        ],
        key=str,
    )
    assert len({(e.platform, e.source) for e in entries}) == len(entries)


def test_nothing_usable_is_an_empty_tuple() -> None:
    assert collect_sboms(inspect_image(B_MULTI, options=SBOM_ONLY)) == ()


def test_sbom_image_is_discovery_then_collection() -> None:
    result = sbom_image(G)
    found = inspect_image(G, options=SBOM_ONLY)
    assert result == ImageSboms(found, collect_sboms(found))
    arm = asyncio.run(sbom_image_async(G, platforms=frozenset({"linux/arm64"})))
    assert _rows(arm.sboms) == [("linux/arm64", "spdx", 25)]
    assert [i.platform.key for i in arm.attestations.images] == ["linux/arm64"]


def test_sbom_image_without_an_sbom_raises_with_what_was_found() -> None:
    with pytest.raises(NoSbomError, match="no usable SBOM is bound to") as raised:
        sbom_image(B_MULTI)
    assert isinstance(raised.value, SbomError)
    found = raised.value.attestations
    assert found is not None and len(found.images) == 3
    assert found.digest.short in str(raised.value)


def test_sbom_image_of_a_platform_the_image_lacks() -> None:
    with pytest.raises(PlatformNotFoundError):
        sbom_image(G, platforms=frozenset({"linux/s390x"}))
