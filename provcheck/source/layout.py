"""An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``).

A layout can also hold recorded referrers answers (``index.json`` entries annotated
``dev.provcheck.evidence.referrers-of``), served by :meth:`LayoutSource.referrers`; an evidence
pack (``index.json`` annotated ``dev.provcheck.evidence.version``) has every blob checked
against its digest when it is opened, so a pack with one flipped byte anywhere is refused. The
tags and referrers answers a pack recorded from an attestations repository (entries annotated
``dev.provcheck.evidence.repository: attestations-repo``) are served only by the view
:meth:`LayoutSource.attestations_repository` returns, never as the image's own.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Final

from provcheck._internal.files import read_regular
from provcheck._internal.jsonload import load_json_object
from provcheck.errors import (
    IntegrityError,
    ManifestError,
    NotFoundError,
    ProvcheckError,
    UsageError,
)
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, ImageIndex, load_manifest_json, parse_manifest
from provcheck.source.base import MANIFEST_MAX_BYTES, check_cap, verify_content

MAX_PACK_BLOB_BYTES: Final = 1024 * 1024 * 1024
"""The largest blob of an evidence pack checked when it is opened (1 GiB)."""

MARKER_MAX_BYTES: Final = 4096
"""The ``oci-layout`` file is ``{"imageLayoutVersion": "1.0.0"}``: 4 KiB is plenty."""


def _tag_matches(descriptor: Descriptor, tag: str) -> bool:
    """``ref.name`` may be a bare tag (``1``) or a full reference (``docker.io/x/y:1``)."""
    name = descriptor.annotations.get(mt.REF_NAME)
    if name is None:
        return False
    return name == tag or (name.endswith(f":{tag}") and "/" in name)


class LayoutSource:
    """Reads an OCI image layout directory; every read is capped and digest-checked, and only
    regular files inside the directory are read."""

    def __init__(self, path: Path) -> None:
        """Open the layout at ``path``.

        Raises :class:`UsageError` when it is not a readable OCI image layout.
        """
        self._path = path
        self._elsewhere: str | None = None
        """In the view of a pack's attestations repository: that repository's name."""
        marker = path / "oci-layout"
        try:
            data = self._read_file(marker, MARKER_MAX_BYTES, "oci-layout file")
        except FileNotFoundError as exc:
            raise UsageError(f"{path} is not an OCI image layout (no oci-layout file)") from exc
        if len(data) > MARKER_MAX_BYTES:
            raise UsageError(f"{marker} is larger than {MARKER_MAX_BYTES} bytes")
        version = load_json_object(data, f"{marker}", UsageError).get("imageLayoutVersion")
        if version != "1.0.0":
            raise UsageError(f"{path}: unsupported imageLayoutVersion {str(version)[:40]!r}")
        self._index = self._read_index()
        if mt.EVIDENCE_VERSION in self._index.annotations:
            self._check_pack()

    def _read_file(self, path: Path, limit: int, what: str) -> bytes:
        """At most ``limit`` + 1 bytes of a regular file inside the layout (see
        :func:`read_regular`). Raises :class:`FileNotFoundError` or :class:`UsageError`."""
        return read_regular(path, limit, what, UsageError, within=self._path)

    def _read_index(self) -> ImageIndex:
        index_path = self._path / "index.json"
        try:
            data = self._read_file(index_path, MANIFEST_MAX_BYTES, "index.json")
        except FileNotFoundError as exc:
            raise UsageError(f"{self._path}: cannot read index.json: {exc.strerror}") from exc
        if len(data) > MANIFEST_MAX_BYTES:
            raise ManifestError(f"{index_path} is over {MANIFEST_MAX_BYTES} bytes")
        doc = load_manifest_json(data, f"{index_path}")
        media_type = doc.get("mediaType", mt.OCI_INDEX) if isinstance(doc, dict) else mt.OCI_INDEX
        parsed = parse_manifest(data, media_type, str(index_path))
        if not isinstance(parsed, ImageIndex):
            raise ManifestError(f"{index_path} is not an image index")
        return parsed

    def _check_pack(self) -> None:
        """Every blob of an evidence pack hashes to its name, and every ``index.json`` entry
        names a blob of its size. Raises :class:`IntegrityError` naming the blob."""
        blobs = self._path / "blobs" / "sha256"
        try:
            names = sorted(p.name for p in blobs.iterdir())
        except OSError as exc:
            raise UsageError(f"{self._path}: cannot list its blobs: {exc.strerror}") from exc
        sizes: dict[Digest, int] = {}
        for name in names:
            try:
                digest = Digest.parse(f"sha256:{name}")
            except ProvcheckError as exc:
                raise IntegrityError(
                    f"{self.display_name}: blobs/sha256/{name[:80]!r} is not a digest"
                ) from exc
            data = self._read_file(blobs / name, MAX_PACK_BLOB_BYTES, "blob")
            try:
                if len(data) > MAX_PACK_BLOB_BYTES:
                    raise IntegrityError(f"over {MAX_PACK_BLOB_BYTES} bytes")
                digest.verify(data)
            except IntegrityError as exc:
                raise IntegrityError(
                    f"{self.display_name}: blob {digest} does not match its digest "
                    "(the evidence pack was modified)"
                ) from exc
            sizes[digest] = len(data)
        for entry in self._index.manifests:
            if sizes.get(entry.digest) != entry.size:
                raise IntegrityError(
                    f"{self.display_name}: index.json names {entry.digest} ({entry.size} bytes), "
                    "which is not in the pack (the evidence pack was modified)"
                )

    @property
    def display_name(self) -> str:
        """``oci-layout://PATH`` (in the view of a pack's attestations repository, that
        repository's ``registry/repository``, as the original run named it)."""
        return self._elsewhere or f"oci-layout://{self._path}"

    def attestations_repository(self) -> LayoutSource | None:
        """Of an evidence pack whose run read an attestations repository (``index.json``
        annotated ``dev.provcheck.evidence.attestations-repository``): a view of the pack that
        serves that repository's recorded tags and referrers answers; else ``None``."""
        name = self._index.annotations.get(mt.EVIDENCE_ATTESTATIONS_REPOSITORY)
        if name is None or self._elsewhere is not None:
            return None
        view = copy.copy(self)
        view._elsewhere = name
        return view

    def _listed(self) -> list[Descriptor]:
        """The ``index.json`` entries of this view's repository."""
        there = self._elsewhere is not None
        return [
            d
            for d in self._index.manifests
            if (d.annotations.get(mt.EVIDENCE_REPOSITORY) == mt.EVIDENCE_ELSEWHERE) is there
        ]

    def _blob_path(self, digest: Digest) -> Path:
        # Digest validated the hex, so the path cannot escape the layout.
        return self._path / "blobs" / digest.algorithm / digest.hex

    async def _read(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        check_cap(descriptor, max_bytes)
        path = self._blob_path(descriptor.digest)

        try:
            # One byte more than declared is read, so that a longer file is caught.
            data = await asyncio.to_thread(self._read_file, path, descriptor.size, "blob")
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"blob {descriptor.digest.short} not found in {self.display_name}", 404
            ) from exc
        return verify_content(descriptor, data)

    async def resolve(self, reference: str | Digest) -> tuple[Descriptor, bytes]:
        """Find a tag or digest in ``index.json`` and read the manifest it names.

        Raises :class:`NotFoundError` when the layout has no such tag or digest.
        """
        if isinstance(reference, Digest):
            found = next((d for d in self._index.manifests if d.digest == reference), None)
            if found is None:
                return await self._resolve_blob(reference)
            return found, await self.fetch_manifest(found)
        result = await self.fetch_tag(reference)
        if result is None:
            raise NotFoundError(f"tag {reference!r} not found in {self.display_name}", 404)
        return result

    async def _resolve_blob(self, digest: Digest) -> tuple[Descriptor, bytes]:
        """A manifest that is not listed in ``index.json`` (a child of an index), by digest."""
        try:
            size = self._blob_path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise NotFoundError(f"{digest} is not in {self.display_name}", 404) from exc
        probe = Descriptor(mt.OCI_MANIFEST, digest, size)
        data = await self._read(probe, MANIFEST_MAX_BYTES)
        doc = load_manifest_json(data, f"manifest {digest.short}")
        media_type = doc.get("mediaType") if isinstance(doc, dict) else None
        if not isinstance(media_type, str) or media_type not in mt.ALL_MANIFEST_TYPES:
            raise ManifestError(f"{digest.short} in {self.display_name} is not a manifest")
        return Descriptor(media_type, digest, size), data

    async def resolve_default(self) -> tuple[Descriptor, bytes]:
        """The only image of the layout (of an evidence pack: its subject), or the one tagged
        ``latest``."""
        subjects = [
            d
            for d in self._index.manifests
            if d.annotations.get(mt.EVIDENCE_ROLE) == mt.EVIDENCE_ROLE_SUBJECT
        ]
        if len(subjects) == 1:
            return subjects[0], await self.fetch_manifest(subjects[0])
        if len(self._index.manifests) == 1:
            only = self._index.manifests[0]
            return only, await self.fetch_manifest(only)
        return await self.resolve("latest")

    def recorded_pin(self) -> Digest | None:
        """Of an evidence pack of a run whose reference was pinned by digest
        (``dev.provcheck.evidence.reference`` names one, and that digest is the pack's one
        subject): that digest, so that a replay of the subject evaluates as the run did; else
        ``None``."""
        from provcheck.oci.reference import parse_reference

        given = self._index.annotations.get("dev.provcheck.evidence.reference")
        if mt.EVIDENCE_VERSION not in self._index.annotations or given is None:
            return None
        try:
            pin = parse_reference(given).digest
        except ProvcheckError:
            return None
        subjects = {
            d.digest
            for d in self._listed()
            if d.annotations.get(mt.EVIDENCE_ROLE) == mt.EVIDENCE_ROLE_SUBJECT
        }
        return pin if pin is not None and subjects == {pin} else None

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        """Read a manifest blob (capped at 4 MiB) and check its digest and size."""
        if descriptor.media_type not in mt.ALL_MANIFEST_TYPES:
            raise ManifestError(
                f"{descriptor.digest.short}: {descriptor.media_type!r} is not a manifest type"
            )
        return await self._read(descriptor, MANIFEST_MAX_BYTES)

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        """Read a blob, refusing one over ``max_bytes``, and check its digest and size."""
        return await self._read(descriptor, max_bytes)

    async def fetch_tag(self, tag: str) -> tuple[Descriptor, bytes] | None:
        """The manifest tagged ``tag`` in ``index.json``, or ``None``."""
        found = [d for d in self._listed() if _tag_matches(d, tag)]
        if not found:
            return None
        if len({d.digest for d in found}) > 1:
            raise ManifestError(f"tag {tag!r} names several manifests in {self.display_name}")
        return found[0], await self.fetch_manifest(found[0])

    async def referrers(self, digest: Digest) -> tuple[Descriptor, ...] | None:
        """The referrers answer recorded in ``index.json`` for ``digest`` (an OCI index
        annotated ``dev.provcheck.evidence.referrers-of``), read and checked like any manifest;
        else ``None`` (no referrers API: callers use the ``sha256-<hex>`` tag fallback)."""
        found = [
            d for d in self._listed() if d.annotations.get(mt.EVIDENCE_REFERRERS_OF) == str(digest)
        ]
        if not found:
            return None
        if len({d.digest for d in found}) > 1 or found[0].media_type != mt.OCI_INDEX:
            raise ManifestError(
                f"referrers of {digest.short}: not one index in {self.display_name}"
            )
        data = await self.fetch_manifest(found[0])
        answer = parse_manifest(data, mt.OCI_INDEX, f"referrers of {digest.short}")
        if not isinstance(answer, ImageIndex):
            raise ManifestError(f"referrers of {digest.short}: not an index in {self.display_name}")
        return answer.manifests

    async def aclose(self) -> None:
        """Nothing to release."""
