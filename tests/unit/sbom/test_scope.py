"""``provcheck.sbom.scope``: one decision of which SBOMs describe which platform, each parsed
once, read alike by ``provcheck sbom``, the ``sbom`` rule and ``inspect`` (the real oras
referrers of fixtures/sbom-stores: two SBOMs name the index, two the amd64 manifest)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import provcheck.sbom
from provcheck import DiscoveryOptions, collect_sboms, evaluate, inspect_image, parse_policy
from provcheck.discovery.model import ImageAttestations
from provcheck.report import Status
from provcheck.sbom.scope import scope_sboms
from provcheck.views.document import inspect_document
from provcheck.views.text import render_inspect_text
from tests.paths import FIXTURES_DIR

ORAS = f"oci-layout://{FIXTURES_DIR / 'sbom-stores' / 'oras-referrers'}:1"
POLICY = parse_policy(
    "apiVersion: provcheck/v1\nkind: Policy\nrules:\n  sbom:\n    required: true\n"
)


def _found() -> ImageAttestations:
    return inspect_image(ORAS, options=DiscoveryOptions(signature_stores=True))


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the documents handed to the SPDX and CycloneDX parsers, by format."""
    counts: Counter[str] = Counter()

    def counting(name: str, parse: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any) -> Any:
            counts[name] += 1
            return parse(*args)

        return wrapped

    for name in ("parse_spdx", "parse_cyclonedx"):
        monkeypatch.setattr(provcheck.sbom, name, counting(name, getattr(provcheck.sbom, name)))
    return counts


def test_each_platform_reads_its_own_and_the_index_sboms() -> None:
    found = _found()
    scoped = {p.image.platform.key: p for p in scope_sboms(found.images)}
    assert {k: len(p.sboms) for k, p in scoped.items()} == {"linux/amd64": 4, "linux/arm64": 2}
    assert [s.index_scoped for s in scoped["linux/arm64"].sboms] == [True, True]
    assert all(s.sbom is not None and s.error is None for p in scoped.values() for s in p.sboms)
    assert scoped["linux/arm64"].shared == ()  # discovery put the index's SBOMs with both


def test_an_index_sbom_found_with_one_platform_covers_the_others() -> None:
    # the index-bound SBOMs kept only with amd64's attestations still describe arm64, for the
    # export, the rule and inspect alike
    found = _found()
    amd64, arm64 = found.images
    index_bound = {s.usable.manifest for s in scope_sboms(found.images)[1].sboms}
    arm64 = dataclasses.replace(
        arm64, attestations=tuple(m for m in arm64.attestations if m not in index_bound)
    )
    found = dataclasses.replace(found, images=(amd64, arm64))
    (_, scoped) = scope_sboms(found.images)
    assert (len(scoped.own), len(scoped.shared)) == (0, 2)
    assert [e.platform for e in collect_sboms(found)].count(None) == 2
    (arm,) = [r for r in evaluate(found, POLICY).results if r.platform == "linux/arm64"]
    assert arm.status is Status.PASS
    assert arm.message.count("bound to the index (covers every platform)") == 2
    document = inspect_document(found)
    summaries = [
        s["sbom"]
        for m in document["images"][0]["attestationManifests"]
        for s in m["statements"]
        if s["sbom"] is not None
    ]
    assert len(summaries) == 4


def test_each_sbom_is_parsed_once_whatever_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _found()
    distinct = {
        s.usable.layer.descriptor.digest for p in scope_sboms(found.images) for s in p.sboms
    }
    assert len(distinct) == 4  # the index's two are with both platforms: six occurrences
    for read in (inspect_document, render_inspect_text, collect_sboms):
        counts = _count_parses(monkeypatch)
        read(found)
        assert sum(counts.values()) == len(distinct), read.__name__
    counts = _count_parses(monkeypatch)
    evaluate(found, POLICY)
    assert sum(counts.values()) == len(distinct)
