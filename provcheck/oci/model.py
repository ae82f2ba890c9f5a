"""Descriptors, image indexes and image manifests as immutable values.

``parse_manifest`` is only ever given bytes that were already checked against their descriptor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from provcheck._internal.jsonload import load_json
from provcheck.errors import ManifestError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.platform import Platform

MAX_DESCRIPTORS: Final = 1000
"""Most entries an index (or layers a manifest) may list: every entry may cost a request, and a
hostile registry must not turn one reference into an unbounded number of them. The largest real
indexes (multi-platform official images with attestations) list a few dozen."""


def _descriptors(items: list[Any], where: str, field_name: str) -> tuple[Descriptor, ...]:
    if len(items) > MAX_DESCRIPTORS:
        raise ManifestError(
            f"{where}: {len(items)} {field_name}, more than the {MAX_DESCRIPTORS} provcheck reads"
        )
    return tuple(Descriptor.from_dict(x, f"{where} {field_name}[{i}]") for i, x in enumerate(items))


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


def _annotations(value: object, where: str) -> Mapping[str, str]:
    if value is None:
        return _empty()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ManifestError(f"{where}: annotations must map strings to strings")
    return MappingProxyType(dict(value))


def _optional_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ManifestError(f"{where}: {key} must be a string")
    return value


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor: what to fetch, and how to check it."""

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=_empty, hash=False)
    artifact_type: str | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ManifestError(f"descriptor {self.digest.short}: negative size")

    @classmethod
    def from_dict(cls, data: object, where: str = "descriptor") -> Descriptor:
        """Build a descriptor from JSON. Raises :class:`ManifestError` when malformed."""
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: a descriptor must be an object")
        media_type, digest, size = data.get("mediaType"), data.get("digest"), data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise ManifestError(f"{where}: missing mediaType")
        if not isinstance(digest, str):
            raise ManifestError(f"{where}: missing digest")
        if not isinstance(size, int) or isinstance(size, bool):
            raise ManifestError(f"{where}: size must be an integer")
        inline = data.get("data")
        raw: bytes | None = None
        if inline is not None:
            if not isinstance(inline, str):
                raise ManifestError(f"{where}: data must be base64 text")
            try:
                raw = base64.b64decode(inline, validate=True)
            except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text
                raise ManifestError(f"{where}: data is not valid base64") from exc
        return cls(
            media_type=media_type,
            digest=Digest.parse(digest),
            size=size,
            platform=Platform.from_dict(data.get("platform")),
            annotations=_annotations(data.get("annotations"), where),
            artifact_type=_optional_str(data, "artifactType", where),
            data=raw,
        )

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as OCI JSON (keys in OCI order)."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            p: dict[str, str] = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                p["variant"] = self.platform.variant
            if self.platform.os_version:
                p["os.version"] = self.platform.os_version
            out["platform"] = p
        return out


@dataclass(frozen=True, slots=True)
class ImageIndex:
    """An OCI image index or a Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=_empty, hash=False)
    artifact_type: str | None = None
    subject: Descriptor | None = None


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """An OCI image manifest or a Docker v2 manifest."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=_empty, hash=False)
    artifact_type: str | None = None
    subject: Descriptor | None = None


def load_manifest_json(data: bytes, what: str) -> Any:
    """Decode JSON bytes (:func:`provcheck._internal.jsonload.load_json`); raise
    :class:`ManifestError` naming ``what`` when they are not strict JSON or nest too deeply."""
    return load_json(data, what, ManifestError)


def parse_manifest(
    data: bytes, media_type: str, where: str = "manifest"
) -> ImageIndex | ImageManifest:
    """Parse verified manifest bytes whose expected media type is ``media_type``.

    The body's own ``mediaType`` (when present) must agree with the expected one.
    Raises :class:`ManifestError` for malformed, contradictory or unsupported content.
    """
    doc = load_manifest_json(data, where)
    if not isinstance(doc, dict):
        raise ManifestError(f"{where}: a manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise ManifestError(f"{where}: unsupported schemaVersion {doc.get('schemaVersion')!r}")
    body_type = doc.get("mediaType")
    if body_type is not None and body_type != media_type:
        raise ManifestError(
            f"{where}: body says mediaType {body_type!r} but it was served as {media_type!r}"
        )
    if media_type in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        raise ManifestError(f"{where}: Docker schema 1 manifests are not supported")
    subject = doc.get("subject")
    subject_desc = (
        Descriptor.from_dict(subject, f"{where} subject") if subject is not None else None
    )
    annotations = _annotations(doc.get("annotations"), where)
    artifact_type = _optional_str(doc, "artifactType", where)
    if media_type in mt.INDEX_TYPES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise ManifestError(f"{where}: an index must have a manifests list")
        return ImageIndex(
            media_type=media_type,
            manifests=_descriptors(children, where, "manifests"),
            annotations=annotations,
            artifact_type=artifact_type,
            subject=subject_desc,
        )
    if media_type in mt.MANIFEST_TYPES:
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ManifestError(f"{where}: a manifest must have a layers list")
        return ImageManifest(
            media_type=media_type,
            config=Descriptor.from_dict(doc.get("config"), f"{where} config"),
            layers=_descriptors(layers, where, "layers"),
            annotations=annotations,
            artifact_type=artifact_type,
            subject=subject_desc,
        )
    raise ManifestError(f"{where}: unsupported media type {media_type!r}")
