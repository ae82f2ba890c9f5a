"""Evidence packs below the CLI: a recorded referrers-API answer is replayed by the layout
source as the same answer (distribution 2.8 has no referrers API, so the API side is the real
oras-attached layout of fixtures/sbom-stores answering from its fallback tags); what a
recording keeps; where a pack is written."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from provcheck.discovery.buildkit import discover
from provcheck.discovery.model import AttestationOrigin, ImageAttestations
from provcheck.discovery.options import DiscoveryOptions
from provcheck.discovery.serialize import attestations_to_dict
from provcheck.discovery.stores import discover_signed
from provcheck.errors import IntegrityError, UsageError
from provcheck.evidence import pack as pack_module
from provcheck.evidence.pack import (
    Member,
    PackHeader,
    PackRole,
    check_target,
    pack_index,
    write_pack,
)
from provcheck.evidence.record import Recording
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, ImageIndex, parse_manifest
from provcheck.predicates import PredicateKind
from provcheck.source.base import Source
from provcheck.source.layout import LayoutSource
from tests.paths import FIXTURES_DIR

ORAS = FIXTURES_DIR / "sbom-stores" / "oras-referrers"
AT = datetime(2026, 12, 1, tzinfo=UTC)
SBOMS = DiscoveryOptions(kinds=frozenset({PredicateKind.SBOM}), signature_stores=True)


class ReferrersApi:
    """A registry with the referrers API over a layout: ``referrers`` answers from the
    layout's fallback tag, which is then hidden (a registry with the API needs none)."""

    def __init__(self, inner: LayoutSource) -> None:
        self._inner = inner
        self.display_name = inner.display_name

    async def resolve(self, reference: str | Digest) -> tuple[Descriptor, bytes]:
        return await self._inner.resolve(reference)

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        return await self._inner.fetch_manifest(descriptor)

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        return await self._inner.fetch_blob(descriptor, max_bytes)

    async def fetch_tag(self, tag: str) -> tuple[Descriptor, bytes] | None:
        if tag.startswith("sha256-") and "." not in tag:
            return None
        return await self._inner.fetch_tag(tag)

    async def referrers(self, digest: Digest) -> tuple[Descriptor, ...] | None:
        found = await self._inner.fetch_tag(f"sha256-{digest.hex}")
        if found is None:
            return ()
        index = parse_manifest(found[1], found[0].media_type, "referrers")
        assert isinstance(index, ImageIndex)
        return index.manifests

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _discover(source: Source, root: tuple[Descriptor, bytes]) -> ImageAttestations:
    found = await discover(source, root, reference="oras", options=SBOMS)
    return await discover_signed(source, found, SBOMS)


def _comparable(found: ImageAttestations) -> dict[str, object]:
    """What was discovered, without where it was read (the layout, then the pack) and the
    root's index.json annotations."""
    doc = attestations_to_dict(found)
    doc.pop("source")
    doc["descriptor"].pop("annotations")
    return doc


def _origins(found: ImageAttestations) -> set[AttestationOrigin]:
    return {m.origin for pi in found.images for m in pi.attestations}


def test_recorded_referrers_answers_replay_as_the_same_answers(tmp_path: Path) -> None:
    async def run() -> None:
        recording = Recording()
        source = recording.wrap(ReferrersApi(LayoutSource(ORAS)))
        root = await source.resolve("1")
        original = await _discover(source, root)
        assert AttestationOrigin.REFERRERS in _origins(original)
        assert AttestationOrigin.REFERRERS_TAG not in _origins(original)
        assert recording.referrers, "the API answers were recorded"
        # every answer is kept, also "none": the two fallback tags' digests have referrers
        answered = {str(d) for d, listed in recording.referrers.items() if listed}
        assert answered == {
            "sha256:096ba41baf2b0e7f9433ee77f1d58bdc219597159a2512d51baea60874591913",
            "sha256:5f385deabe3adda5a63112a936fc062c52fb61e65ca861fd8b8454ee315e2066",
        }
        assert any(not listed for listed in recording.referrers.values())
        assert not any(t.startswith("sha256-") for t in recording.tags)

        header = PackHeader("oras", str(root[0].digest), "1", AT, "pass")
        write_pack(tmp_path / "pack", recording, header, ())
        pack = LayoutSource(tmp_path / "pack")
        for digest, listed in recording.referrers.items():
            assert await pack.referrers(digest) == listed
        assert await pack.referrers(Digest.parse("sha256:" + "0" * 64)) is None
        replay_root = await pack.resolve_default()
        assert (replay_root[0].digest, replay_root[1]) == (root[0].digest, root[1])
        replayed = await _discover(pack, replay_root)
        assert _comparable(replayed) == _comparable(original)

    asyncio.run(run())


def test_content_that_fails_its_digest_is_not_recorded(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(ORAS, layout)
    index = json.loads((layout / "index.json").read_text())
    target = Descriptor.from_dict(index["manifests"][0])
    blob = layout / "blobs" / "sha256" / target.digest.hex
    blob.write_bytes(blob.read_bytes().replace(b"schemaVersion", b"schemaVersioN"))

    async def run() -> None:
        recording = Recording()
        source = recording.wrap(LayoutSource(layout))
        with pytest.raises(IntegrityError):
            await source.fetch_manifest(target)
        assert recording.content == {}

    asyncio.run(run())


def _sha256(data: bytes) -> Digest:
    return Digest.parse(f"sha256:{hashlib.sha256(data).hexdigest()}")


def test_index_names_every_role(tmp_path: Path) -> None:
    recording = Recording()
    subject = Descriptor(mt.OCI_INDEX, _sha256(b"abc"), 3)
    tagged = Descriptor(mt.OCI_MANIFEST, _sha256(b"abcd"), 4)
    recording.resolved("1", (subject, b"abc"))
    recording.resolved(f"sha256-{subject.digest.hex}.att", (tagged, b"abcd"))
    recording.referrers[subject.digest] = (tagged,)
    members = [Member(PackRole.POLICY, "p.yaml", "application/yaml", b"rules: {}\n")]
    index, blobs = pack_index(
        recording, PackHeader("r:1", str(subject.digest), "1", AT, "fail"), members
    )
    doc = json.loads(index)
    roles = [e["annotations"][mt.EVIDENCE_ROLE] for e in doc["manifests"]]
    assert roles == ["subject", "tag", "referrers", "policy"]
    assert doc["manifests"][0]["annotations"][mt.REF_NAME] == "1"
    assert doc["manifests"][2]["annotations"][mt.EVIDENCE_REFERRERS_OF] == str(subject.digest)
    assert doc["manifests"][3]["artifactType"] == "application/vnd.provcheck.evidence.policy.v1"
    assert doc["annotations"][mt.EVIDENCE_VERSION] == "1"
    assert doc["annotations"]["dev.provcheck.evidence.time"] == "2026-12-01T00:00:00Z"
    assert b"rules: {}\n" in blobs.values()
    schema = json.loads((Path(pack_module.__file__).parent / "pack.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    report = Member(PackRole.REPORT, "report.json", "application/json", b"{}")
    header = PackHeader("r:1", str(subject.digest), "1", AT, "fail")
    complete = json.loads(pack_index(recording, header, [*members, report])[0])
    validator.validate(complete)
    assert not validator.is_valid(doc), "a pack without its report is not valid"
    del complete["manifests"][1]["annotations"][mt.REF_NAME]
    assert not validator.is_valid(complete), "a tag entry names its tag"
    for digest, data in blobs.items():
        digest.verify(data)


def test_a_pack_replaces_only_a_pack(tmp_path: Path) -> None:
    header = PackHeader("r", "", None, AT, "error")
    write_pack(tmp_path / "pack", Recording(), header, ())
    check_target(tmp_path / "pack")
    write_pack(tmp_path / "pack", Recording(), header, ())  # replaced
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary left"
    (tmp_path / "empty").mkdir()
    check_target(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not an evidence pack"):
        check_target(tmp_path / "file")
