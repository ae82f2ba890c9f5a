"""A :class:`Source` wrapper that keeps every verified byte and every tag and referrers answer.

The wrapped source checks every byte against its digest before returning it, so what the
recording holds is exactly what discovery and the rules saw. Content that failed its checks
raises and is not kept: a pack never holds bytes under a digest they do not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.source.base import Source


@dataclass(slots=True)
class Recording:
    """What one verification read: ``content`` by digest (manifests, configs, layers, cosign
    and referrer manifests), ``tags`` (each tag that resolved, to its descriptor; one that did
    not exist is not kept, so that a replay does not find it either), ``referrers`` (each answer
    of the referrers API; an unsupported API is not kept, so that a replay falls back to the
    ``sha256-<hex>`` tag as the original run did) and ``roots`` (every manifest resolved by
    digest or tag, in order), all of the image's own repository; ``elsewhere``: the tags and
    referrers answers of the attestations repository, when one was read (its content is kept in
    ``content`` too: content is named by digest, a tag only within its repository)."""

    content: dict[Digest, bytes] = field(default_factory=dict)
    tags: dict[str, Descriptor] = field(default_factory=dict)
    referrers: dict[Digest, tuple[Descriptor, ...]] = field(default_factory=dict)
    roots: list[Descriptor] = field(default_factory=list)
    elsewhere: Elsewhere | None = None

    def keep(self, descriptor: Descriptor, data: bytes) -> bytes:
        """Keep ``data`` (already verified against ``descriptor``) and return it."""
        self.content[descriptor.digest] = data
        return data

    def resolved(self, reference: str | Digest, found: tuple[Descriptor, bytes]) -> None:
        """Keep a root manifest resolved from ``reference`` (a tag is kept as a tag)."""
        descriptor, data = found
        self.keep(descriptor, data)
        self.roots.append(descriptor)
        if isinstance(reference, str):
            self.tags[reference] = descriptor

    def wrap(self, source: Source) -> RecordingSource:
        """``source`` (the image's repository), recording into this recording."""
        return RecordingSource(source, self, self.tags, self.referrers)

    def wrap_elsewhere(self, source: Source) -> RecordingSource:
        """``source``, the attestations repository, recording its tags and referrers answers
        into :attr:`elsewhere` (named by the source's ``display_name``)."""
        if self.elsewhere is None:
            self.elsewhere = Elsewhere(source.display_name)
        return RecordingSource(source, self, self.elsewhere.tags, self.elsewhere.referrers)


@dataclass(slots=True)
class Elsewhere:
    """What one verification read from the attestations repository ``repository``
    (``registry/repository``): each tag that resolved, each referrers answer."""

    repository: str
    tags: dict[str, Descriptor] = field(default_factory=dict)
    referrers: dict[Digest, tuple[Descriptor, ...]] = field(default_factory=dict)


class RecordingSource:
    """A :class:`Source` that delegates every call and keeps what it returned (its tags and
    referrers answers into ``tags`` and ``referrers``: those of its repository)."""

    def __init__(
        self,
        inner: Source,
        recording: Recording,
        tags: dict[str, Descriptor],
        referrers: dict[Digest, tuple[Descriptor, ...]],
    ) -> None:
        self._inner = inner
        self._recording = recording
        self._tags = tags
        self._referrers = referrers

    @property
    def display_name(self) -> str:
        """The wrapped source's name."""
        return self._inner.display_name

    async def resolve(self, reference: str | Digest) -> tuple[Descriptor, bytes]:
        """See :meth:`Source.resolve`."""
        found = await self._inner.resolve(reference)
        self._resolved(reference, found)
        return found

    def _resolved(self, reference: str | Digest, found: tuple[Descriptor, bytes]) -> None:
        if self._tags is self._recording.tags:
            self._recording.resolved(reference, found)
            return
        self._recording.keep(*found)
        if isinstance(reference, str):
            self._tags[reference] = found[0]

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        """See :meth:`Source.fetch_manifest`."""
        return self._recording.keep(descriptor, await self._inner.fetch_manifest(descriptor))

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        """See :meth:`Source.fetch_blob`."""
        data = await self._inner.fetch_blob(descriptor, max_bytes)
        return self._recording.keep(descriptor, data)

    async def fetch_tag(self, tag: str) -> tuple[Descriptor, bytes] | None:
        """See :meth:`Source.fetch_tag`."""
        found = await self._inner.fetch_tag(tag)
        if found is not None:
            self._resolved(tag, found)
        return found

    async def referrers(self, digest: Digest) -> tuple[Descriptor, ...] | None:
        """See :meth:`Source.referrers`."""
        listed = await self._inner.referrers(digest)
        if listed is not None:
            self._referrers[digest] = listed
        return listed

    async def aclose(self) -> None:
        """Close the wrapped source."""
        await self._inner.aclose()
