"""The pure OCI parsers: references, digests, platforms, manifests. Hostile input gives a
ProvcheckError with one line, never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provcheck.errors import IntegrityError, ManifestError, ProvcheckError, UsageError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import MAX_DESCRIPTORS, ImageIndex, ImageManifest, parse_manifest
from provcheck.oci.platform import Platform
from provcheck.oci.reference import ImageReference, LayoutReference, parse_reference

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", "docker.io/library/alpine:latest"),
        ("library/alpine:3", "docker.io/library/alpine:3"),
        ("index.docker.io/user/app", "docker.io/user/app:latest"),
        ("user/app:1.2", "docker.io/user/app:1.2"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/lab/x:1", "localhost:5000/lab/x:1"),
        ("ghcr.io/o/app@sha256:" + HEX, "ghcr.io/o/app@sha256:" + HEX),
        ("ghcr.io/o/app:v1@sha256:" + HEX, "ghcr.io/o/app:v1@sha256:" + HEX),
        ("[::1]:5000/x/y:1", "[::1]:5000/x/y:1"),
    ],
)
def test_docker_normalisation(text: str, expected: str) -> None:
    assert str(ImageReference.parse(text)) == expected


def test_docker_hub_is_served_by_registry_1() -> None:
    assert ImageReference.parse("alpine").endpoint == "registry-1.docker.io"
    assert ImageReference.parse("localhost:5000/a").endpoint == "localhost:5000"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " alpine",
        "Alpine",
        "a:b:c",
        "x@sha256:abc",
        "x@md5:" + HEX,
        "x:-bad",
        "https://x/y",
        "x//y",
        "a" * 300,
    ],
)
def test_bad_references_are_one_line_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_reference(text)
    assert "\n" not in info.value.diagnostics()


def test_layout_references() -> None:
    ref = parse_reference("oci-layout://some/dir:1")
    assert isinstance(ref, LayoutReference) and (str(ref.path), ref.tag) == ("some/dir", "1")
    pinned = parse_reference(f"oci-layout:///abs/dir@sha256:{HEX}")
    assert isinstance(pinned, LayoutReference) and pinned.digest == Digest("sha256", HEX)
    assert parse_reference("oci-layout://dir").tag is None


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_usage_error(text: str) -> None:
    try:
        ref = parse_reference(text)
    except UsageError:
        return
    # What parses, round-trips.
    assert str(parse_reference(str(ref))) == str(ref)


@given(st.text(max_size=200))
def test_digest_parse_never_raises_anything_else(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except ManifestError:
        return
    assert str(digest) == text


def test_digest_verify() -> None:
    digest = Digest.of(b"hello")
    digest.verify(b"hello")
    with pytest.raises(IntegrityError, match="hashes to"):
        digest.verify(b"hello!")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/armhf", "linux/arm/v7"),
        ("windows/amd64", "windows/amd64"),
    ],
)
def test_platform_normalisation(text: str, key: str) -> None:
    assert Platform.parse(text).key == key


def _index(entries: int) -> bytes:
    child = {"mediaType": mt.OCI_MANIFEST, "digest": f"sha256:{HEX}", "size": 1}
    return json.dumps(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [child] * entries}
    ).encode()


def test_index_fan_out_is_bounded() -> None:
    assert isinstance(parse_manifest(_index(MAX_DESCRIPTORS), mt.OCI_INDEX), ImageIndex)
    with pytest.raises(ManifestError, match="more than the 1000 provcheck reads"):
        parse_manifest(_index(MAX_DESCRIPTORS + 1), mt.OCI_INDEX)


@pytest.mark.parametrize(
    ("body", "media_type", "message"),
    [
        (b"\x1f\x8b\x08", mt.OCI_INDEX, "not valid JSON"),
        (b"[]", mt.OCI_INDEX, "must be a JSON object"),
        (b'{"schemaVersion": 1}', mt.OCI_MANIFEST, "unsupported schemaVersion"),
        (
            b'{"schemaVersion": 2, "mediaType": "%s"}' % mt.OCI_INDEX.encode(),
            mt.OCI_MANIFEST,
            "served as",
        ),
        (b'{"schemaVersion": 2, "manifests": {}}', mt.OCI_INDEX, "manifests list"),
        (
            b'{"schemaVersion": 2, "manifests": [{"mediaType": "x", "digest": "sha256:1", '
            b'"size": 1}]}',
            mt.OCI_INDEX,
            "malformed sha256 digest",
        ),
        (
            b'{"schemaVersion": 2, "manifests": [{"mediaType": "x", "digest": "sha256:'
            + HEX.encode()
            + b'", "size": -1}]}',
            mt.OCI_INDEX,
            "negative size",
        ),
        (
            b'{"schemaVersion": 2, "layers": [], "config": null}',
            mt.OCI_MANIFEST,
            "a descriptor must be an object",
        ),
        (b"[" * 100000 + b"]" * 100000, mt.OCI_INDEX, "nests deeper than 200 levels"),
    ],
)
def test_malformed_manifests(body: bytes, media_type: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(body, media_type)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
manifest_like = st.fixed_dictionaries(
    {"schemaVersion": st.just(2)},
    optional={
        "mediaType": st.sampled_from(sorted(mt.ALL_MANIFEST_TYPES)),
        "manifests": json_values,
        "layers": json_values,
        "config": json_values,
        "subject": json_values,
        "annotations": json_values,
        "artifactType": json_values,
    },
)


@given(manifest_like, st.sampled_from(sorted(mt.ALL_MANIFEST_TYPES)))
def test_hostile_manifests_raise_only_provcheck_errors(doc: dict[str, object], kind: str) -> None:
    try:
        parsed = parse_manifest(json.dumps(doc).encode(), kind)
    except ProvcheckError:
        return
    assert isinstance(parsed, ImageIndex | ImageManifest)
