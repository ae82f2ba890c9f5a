"""The one subject binder: typed failures, decided on the enum, never on message text.

Statements are BuildKit-shaped (tests/oci_builder.py), bound to the digests of real synthetic
platform manifests. The regressions: a store envelope's reasons used to be filtered with
``"subjects" not in message``, so any reason whose text held that word (a subject named
``…/subjects/…``, a predicate type ``…/subjects/v1``) vanished from the rejection.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from provcheck.attestation.binding import (
    BindingFailure,
    BindingReason,
    BindingStatus,
    bind_statement,
    bind_to_image,
    subject_is,
)
from provcheck.attestation.statement import Statement, parse_statement
from provcheck.oci.digest import Digest
from provcheck.oci.mediatypes import DOCKER_MANIFEST
from provcheck.oci.model import Descriptor
from provcheck.oci.platform import Platform
from tests.oci_builder import ImageBuilder, PlatformEntry, provenance_statement

SLSA_V02 = "https://slsa.dev/provenance/v0.2"


@pytest.fixture(scope="module")
def image() -> tuple[Digest, list[PlatformEntry]]:
    builder = ImageBuilder("binding")
    entries = [builder.add_platform(p) for p in ("linux/amd64", "linux/arm64")]
    return Digest.parse(builder.build().root_digest), entries


def statement(doc: dict[str, Any]) -> Statement:
    return parse_statement(json.dumps(doc).encode())


def platforms(entries: list[PlatformEntry]) -> list[tuple[Digest, Platform]]:
    return [(Digest.parse(e.digest), Platform.parse(e.platform)) for e in entries]


def reasons(failures: tuple[BindingFailure, ...]) -> list[BindingReason]:
    return [f.reason for f in failures]


def test_bound_and_index_scoped_statements_have_no_failures(
    image: tuple[Digest, list[PlatformEntry]],
) -> None:
    root, (amd64, _) = image
    manifest = Digest.parse(amd64.digest)
    own = bind_statement(
        statement(provenance_statement(amd64.digest)),
        manifest=manifest,
        platform=Platform.parse("linux/amd64"),
        index=root,
        predicate_type_hint=SLSA_V02,
    )
    assert (own.status, own.failures, own.usable) == (BindingStatus.BOUND, (), True)
    scoped = bind_statement(
        statement(provenance_statement(str(root), platform="linux/amd64")),
        manifest=manifest,
        platform=Platform.parse("linux/amd64"),
        index=root,
        predicate_type_hint=None,
    )
    assert (scoped.status, scoped.failures) == (BindingStatus.INDEX, ())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("hint", [BindingReason.PREDICATE_TYPE_HINT]),
        ("no-subject", [BindingReason.NO_SUBJECT]),
        ("sha1-only", [BindingReason.NO_ACCEPTED_DIGEST, BindingReason.OTHER_CONTENT]),
        ("platform", [BindingReason.PLATFORM]),
        ("other", [BindingReason.OTHER_CONTENT]),
    ],
)
def test_every_failure_is_typed(
    image: tuple[Digest, list[PlatformEntry]], change: str, expected: list[BindingReason]
) -> None:
    root, (amd64, arm64) = image
    doc = provenance_statement(
        arm64.digest if change == "other" else amd64.digest,
        platform="linux/arm64" if change == "platform" else "linux/amd64",
    )
    if change == "no-subject":
        doc["subject"] = []
    if change == "sha1-only":
        doc["subject"][0]["digest"] = {"sha1": "0" * 40}
    result = bind_statement(
        statement(doc),
        manifest=Digest.parse(amd64.digest),
        platform=Platform.parse("linux/amd64"),
        index=root,
        predicate_type_hint="https://spdx.dev/Document" if change == "hint" else None,
    )
    assert not result.usable
    assert reasons(result.failures) == expected
    assert all(result.failed_for(r) for r in expected)
    assert result.messages == tuple(f.message for f in result.failures)


def test_a_statement_of_another_image_names_the_image_once(
    image: tuple[Digest, list[PlatformEntry]],
) -> None:
    root, entries = image
    other = ImageBuilder("other").add_platform("linux/amd64")
    bound = bind_to_image(
        statement(provenance_statement(other.digest)),
        image=root,
        is_index=True,
        platforms=platforms(entries),
        predicate_type_hint=SLSA_V02,
    )
    assert not bound.bound
    assert [b.status for b in bound.bindings] == [BindingStatus.MISMATCH] * 2
    assert reasons(bound.failures) == [BindingReason.OTHER_CONTENT]
    assert bound.failures[0].message.startswith(f"subjects name sha256:{other.digest[7:19]}")
    assert f"not {root.short} or any of its platform manifests" in bound.failures[0].message


def test_reasons_whose_text_says_subjects_are_kept(
    image: tuple[Digest, list[PlatformEntry]],
) -> None:
    """A subject named ``…/subjects/app`` that claims arm64 for the amd64 manifest, under a
    predicate type ``…/subjects/v1`` that the layer annotation contradicts: both reasons are
    reported (the old text filter dropped both, leaving only the image-wide summary)."""
    root, entries = image
    amd64 = entries[0]
    doc = provenance_statement(
        amd64.digest, platform="linux/arm64", image="registry.test/subjects/app:1"
    )
    doc["predicateType"] = "https://example.com/subjects/v1"
    bound = bind_to_image(
        statement(doc),
        image=root,
        is_index=True,
        platforms=platforms(entries),
        predicate_type_hint=SLSA_V02,
    )
    assert not bound.bound
    assert reasons(bound.failures) == [
        BindingReason.OTHER_CONTENT,
        BindingReason.PREDICATE_TYPE_HINT,
        BindingReason.PLATFORM,
    ]
    assert "subjects/app" in bound.failures[2].message


def test_a_manifest_subject_must_name_digest_size_and_media_type(
    image: tuple[Digest, list[PlatformEntry]],
) -> None:
    _, (amd64, _) = image
    target = Descriptor.from_dict(amd64.descriptor)
    assert subject_is(Descriptor.from_dict(dict(amd64.descriptor)), target)
    for change in ({"size": target.size + 1}, {"mediaType": DOCKER_MANIFEST}):
        assert not subject_is(Descriptor.from_dict({**amd64.descriptor, **change}), target)
