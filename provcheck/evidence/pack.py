"""Write an evidence pack: an OCI image layout of what one verification read, and why.

Layout (``docs``: README "Evidence packs"): ``oci-layout``, ``blobs/sha256/<hex>`` (every blob
under its own digest) and ``index.json``, annotated ``dev.provcheck.evidence.version: "1"``
(plus the reference as given, the evaluation instant, the verdict and provcheck's version),
listing, each with ``dev.provcheck.evidence.role``:

- ``subject``: the verified image (``org.opencontainers.image.ref.name`` = its tag, if it was
  named by one); its index, manifests, configs and attestation layers are reachable from it;
- ``tag``: each other tag that resolved (cosign's ``sha256-<hex>.att``/``.sig``, the referrers
  fallback tag ``sha256-<hex>``), named by ``ref.name``;
- ``referrers``: each answer of the referrers API, stored as the OCI index the API returns,
  ``dev.provcheck.evidence.referrers-of`` = the digest asked about (a layout source serves it
  from there; an API that was unsupported is not recorded, so the replay uses the fallback tag
  as the original run did);
- the ``tag`` and ``referrers`` entries read from the attestations repository
  (``--attestations-repo``) are annotated ``dev.provcheck.evidence.repository:
  attestations-repo`` (a ``sha256-<hex>.att`` in each repository is two entries of one
  ``ref.name``, never one shadowing the other), and ``index.json`` names that repository
  (``dev.provcheck.evidence.attestations-repository``): a replay reads them as it, with no
  ``--attestations-repo`` (naming another repository is a usage error);
- ``policy``, ``key``, ``trusted-root``, ``report``: an OCI artifact manifest each
  (``artifactType`` ``application/vnd.provcheck.evidence.<role>.v1``, an empty config, one layer
  holding the policy file's bytes, a public key as PEM, the trusted root as given, the JSON
  report).

The pack is built in a temporary directory beside the target and renamed into place.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from provcheck.errors import UsageError
from provcheck.evidence.record import Recording
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor

if TYPE_CHECKING:
    from provcheck.policy import Policy
    from provcheck.report import Report

PACK_VERSION: Final = "1"
EMPTY_CONFIG: Final = b"{}"
TRUSTED_ROOT_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
REPORT_MEDIA_TYPE: Final = "application/vnd.provcheck.report.v1+json"


class PackRole(StrEnum):
    """What an ``index.json`` entry of a pack is (the ``dev.provcheck.evidence.role`` value)."""

    SUBJECT = mt.EVIDENCE_ROLE_SUBJECT
    TAG = "tag"
    REFERRERS = mt.EVIDENCE_ROLE_REFERRERS
    POLICY = "policy"
    KEY = "key"
    TRUSTED_ROOT = "trusted-root"
    REPORT = "report"

    @property
    def artifact_type(self) -> str:
        """The ``artifactType`` of a member of this role."""
        return f"application/vnd.provcheck.evidence.{self.value}.v1"


@dataclass(frozen=True, slots=True)
class Member:
    """A file kept in the pack beside the image content: its role, name, media type, bytes."""

    role: PackRole
    title: str
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PackHeader:
    """What ``index.json`` says about the run: the reference as given, the subject's digest
    (``""`` when none was resolved), its tag, the evaluation instant, the verdict."""

    reference: str
    digest: str
    tag: str | None
    at: datetime
    verdict: str


def _digest(data: bytes) -> Digest:
    return Digest.parse(f"sha256:{hashlib.sha256(data).hexdigest()}")


def _json(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _entry(
    descriptor: Descriptor, role: PackRole, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mediaType": descriptor.media_type,
        "digest": str(descriptor.digest),
        "size": descriptor.size,
    }
    if descriptor.artifact_type:
        out["artifactType"] = descriptor.artifact_type
    out["annotations"] = {mt.EVIDENCE_ROLE: role.value, **(extra or {})}
    return out


def _descriptor(descriptor: Descriptor) -> dict[str, Any]:
    """A referrer's descriptor as the API gave it, embedded ``data`` included."""
    out = descriptor.to_dict()
    if descriptor.data is not None:
        out["data"] = base64.b64encode(descriptor.data).decode()
    return out


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC, RFC 3339 with ``Z`` (seconds, microseconds when there are some)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Blobs:
    """The blobs of a pack being built, by digest."""

    def __init__(self) -> None:
        self.data: dict[Digest, bytes] = {}

    def add(self, data: bytes) -> Digest:
        digest = _digest(data)
        self.data[digest] = data
        return digest

    def member(self, member: Member) -> dict[str, Any]:
        """The artifact manifest of ``member``, stored, and its ``index.json`` entry."""
        config = self.add(EMPTY_CONFIG)
        layer = self.add(member.data)
        manifest = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": member.role.artifact_type,
            "config": {"mediaType": mt.OCI_EMPTY, "digest": str(config), "size": 2},
            "layers": [
                {
                    "mediaType": member.media_type,
                    "digest": str(layer),
                    "size": len(member.data),
                    "annotations": {mt.TITLE: member.title},
                }
            ],
        }
        body = _json(manifest)
        descriptor = Descriptor(
            mt.OCI_MANIFEST, self.add(body), len(body), artifact_type=member.role.artifact_type
        )
        return _entry(descriptor, member.role, {mt.TITLE: member.title})


def _stores(
    blobs: _Blobs,
    tags: Mapping[str, Descriptor],
    referrers: Mapping[Digest, tuple[Descriptor, ...]],
    where: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The ``tag`` and ``referrers`` entries of one repository (``where``: the annotation that
    says which; none for the image's own), their answers stored in ``blobs``."""
    entries = [
        _entry(descriptor, PackRole.TAG, {mt.REF_NAME: tag, **where})
        for tag, descriptor in sorted(tags.items())
    ]
    for digest, listed in sorted(referrers.items(), key=lambda item: str(item[0])):
        body = _json(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_INDEX,
                "manifests": [_descriptor(d) for d in listed],
            }
        )
        answer = Descriptor(mt.OCI_INDEX, blobs.add(body), len(body))
        entries.append(
            _entry(answer, PackRole.REFERRERS, {mt.EVIDENCE_REFERRERS_OF: str(digest), **where})
        )
    return entries


def pack_index(
    recording: Recording, header: PackHeader, members: Sequence[Member]
) -> tuple[bytes, dict[Digest, bytes]]:
    """The ``index.json`` bytes and the blobs of a pack. Raises nothing."""
    blobs = _Blobs()
    blobs.data.update(recording.content)
    entries: list[dict[str, Any]] = []
    subject = next((d for d in recording.roots if str(d.digest) == header.digest), None)
    if subject is not None:
        named = {mt.REF_NAME: header.tag} if header.tag is not None else {}
        entries.append(_entry(subject, PackRole.SUBJECT, named))
    home = {
        tag: descriptor
        for tag, descriptor in recording.tags.items()
        if tag != header.tag or subject is None or descriptor.digest != subject.digest
    }
    entries += _stores(blobs, home, recording.referrers, {})
    annotations = {
        mt.EVIDENCE_VERSION: PACK_VERSION,
        "dev.provcheck.evidence.reference": header.reference,
        "dev.provcheck.evidence.time": rfc3339(header.at),
        "dev.provcheck.evidence.verdict": header.verdict,
    }
    if recording.elsewhere is not None:
        there = recording.elsewhere
        entries += _stores(
            blobs, there.tags, there.referrers, {mt.EVIDENCE_REPOSITORY: mt.EVIDENCE_ELSEWHERE}
        )
        annotations[mt.EVIDENCE_ATTESTATIONS_REPOSITORY] = there.repository
    entries.extend(blobs.member(m) for m in members)
    from provcheck import __version__

    annotations["dev.provcheck.evidence.provcheck-version"] = __version__
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": entries,
        "annotations": annotations,
    }
    return json.dumps(index, indent=2, ensure_ascii=False).encode() + b"\n", blobs.data


def is_pack(path: Path) -> bool:
    """Whether ``path`` holds an evidence pack (its ``index.json`` says so). Raises nothing."""
    from provcheck._internal.files import read_at_most
    from provcheck.source.base import MANIFEST_MAX_BYTES

    try:
        data = read_at_most(path / "index.json", MANIFEST_MAX_BYTES, regular_only=True)
        doc = json.loads(data) if len(data) <= MANIFEST_MAX_BYTES else None
    except (OSError, ValueError):
        return False
    annotations = doc.get("annotations") if isinstance(doc, dict) else None
    return isinstance(annotations, dict) and mt.EVIDENCE_VERSION in annotations


def check_target(path: Path) -> None:
    """Refuse to write a pack over something that is not one (a pack is replaced).

    Raises :class:`UsageError`.
    """
    if path.exists() and not (path.is_dir() and (not any(path.iterdir()) or is_pack(path))):
        raise UsageError(f"{path} exists and is not an evidence pack: not replacing it")


def write_pack(
    path: Path, recording: Recording, header: PackHeader, members: Sequence[Member]
) -> None:
    """Write the pack at ``path``: built in a temporary directory beside it, then renamed into
    place (an earlier pack there is replaced). Raises :class:`UsageError` when it cannot be
    written or ``path`` holds something else."""
    check_target(path)
    index, blobs = pack_index(recording, header, members)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        (temp / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
        (temp / "blobs" / "sha256").mkdir(parents=True)
        for digest, data in blobs.items():
            (temp / "blobs" / digest.algorithm / digest.hex).write_bytes(data)
        (temp / "index.json").write_bytes(index)
        os.chmod(temp, 0o755)
        _rename_into_place(temp, path)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _rename_into_place(temp: Path, path: Path) -> None:
    """Rename ``temp`` to ``path``; a pack already there (or written there meanwhile by a
    concurrent writer) is moved aside first, then removed. Raises :class:`OSError`."""
    for _ in range(3):
        if not path.exists():
            try:
                os.replace(temp, path)
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                continue
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
        try:
            os.replace(path, old / "pack")
            os.replace(temp, path)
            return
        except FileNotFoundError:
            continue
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise OSError(errno.EBUSY, "another writer keeps replacing it")


def members(
    policy: Policy, policy_document: bytes, policy_path: str, report_json: bytes
) -> tuple[Member, ...]:
    """The policy file's bytes, its trust inputs (each key as PEM, the trusted root as given)
    and the report, as pack members. Raises nothing."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from provcheck.policy.model import SignaturesOptions

    out = [Member(PackRole.POLICY, Path(policy_path).name, "application/yaml", policy_document)]
    signatures = policy.rules.get("signatures")
    if isinstance(signatures, SignaturesOptions):
        for key in signatures.keys:
            pem = key.key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            name = f"{key.key_id[:16]}.pem"
            out.append(Member(PackRole.KEY, name, "application/x-pem-file", pem))
        if signatures.trusted_root is not None:
            root = signatures.trusted_root.data
            title = Path(signatures.trusted_root.source).name or "trusted_root.json"
            out.append(Member(PackRole.TRUSTED_ROOT, title, TRUSTED_ROOT_MEDIA_TYPE, root))
    out.append(Member(PackRole.REPORT, "report.json", REPORT_MEDIA_TYPE, report_json))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PackInputs:
    """What the packs of one run share: the policy, the bytes it was parsed from, the path it
    was given by, and the evaluation instant."""

    policy: Policy
    policy_document: bytes
    policy_path: str
    at: datetime


def pack_tag(reference: str) -> str | None:
    """The tag ``reference`` resolved (``None`` when pinned by digest or unparseable)."""
    from provcheck.errors import ProvcheckError
    from provcheck.oci.reference import parse_reference

    try:
        ref = parse_reference(reference)
    except ProvcheckError:
        return None
    return ref.tag if ref.digest is None else None


def pack_name(digest: str) -> str:
    """The directory name of an image's pack in an audit's evidence directory: ``sha256-<hex>``."""
    return digest.replace(":", "-")


def save_pack(path: Path, recording: Recording, report: Report, inputs: PackInputs) -> None:
    """Write the pack of one verification (:func:`write_pack`) with its report as JSON:
    ``recording`` is what the verification read (``record=`` of
    :func:`~provcheck.api.verify_image_async`). Replay it by verifying
    ``oci-layout://PATH`` at ``inputs.at`` (``now=``): no network, the same verdict.
    Raises :class:`UsageError` when ``path`` cannot be written or holds something else."""
    from provcheck.report.json import render_json

    report_json = render_json(report).encode()
    tag = pack_tag(report.reference)
    header = PackHeader(report.reference, report.digest, tag, inputs.at, report.verdict.value)
    found = members(inputs.policy, inputs.policy_document, inputs.policy_path, report_json)
    write_pack(path, recording, header, found)
