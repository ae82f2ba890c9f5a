"""The :class:`Source` protocol and the checks every source applies to what it returns."""

from __future__ import annotations

from typing import Final, Protocol

from provcheck.errors import ContentTooLargeError, IntegrityError
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor

MANIFEST_MAX_BYTES: Final = 4 * 1024 * 1024
"""Hard cap for manifests, indexes and referrer lists (containerd allows about 4.19 MiB)."""

CONFIG_MAX_BYTES: Final = 8 * 1024 * 1024
"""Hard cap for image configs, which carry the build history."""

ATTESTATION_MAX_BYTES: Final = 64 * 1024 * 1024
"""Default cap for one attestation layer (BuildKit >= 0.32 writes at most 40 MiB)."""


class Source(Protocol):
    """Content of one repository (registry) or one OCI image layout.

    Every method returns bytes that were checked against the digest and size they were asked
    for, and never reads more than its cap. Implementations raise :class:`RegistryError`
    subclasses, :class:`IntegrityError` or :class:`ContentTooLargeError`.
    """

    @property
    def display_name(self) -> str:
        """Where the content comes from, for messages (never contains credentials)."""
        ...

    async def resolve(self, reference: str | Digest) -> tuple[Descriptor, bytes]:
        """Fetch the root manifest named by a tag or digest: its descriptor and verified bytes.

        With a tag, the digest is computed from the bytes received (this pins the image);
        with a digest, the bytes must hash to it.
        """
        ...

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        """Fetch a manifest or index by digest (capped at :data:`MANIFEST_MAX_BYTES`)."""
        ...

    async def fetch_blob(self, descriptor: Descriptor, max_bytes: int) -> bytes:
        """Fetch a blob by digest, refusing one whose descriptor or body exceeds ``max_bytes``."""
        ...

    async def fetch_tag(self, tag: str) -> tuple[Descriptor, bytes] | None:
        """Like :meth:`resolve` for a tag, but ``None`` when the tag does not exist."""
        ...

    async def referrers(self, digest: Digest) -> tuple[Descriptor, ...] | None:
        """Descriptors from the OCI 1.1 referrers API, or ``None`` when it is unsupported."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...


def check_cap(descriptor: Descriptor, max_bytes: int) -> None:
    """Refuse to fetch content whose declared size is over the cap."""
    if descriptor.size > max_bytes:
        raise ContentTooLargeError(
            f"{descriptor.digest.short} ({descriptor.media_type}) is {descriptor.size} bytes, "
            f"over the {max_bytes}-byte limit"
        )


def verify_content(descriptor: Descriptor, data: bytes) -> bytes:
    """Return ``data`` if it has the descriptor's size and digest; else raise IntegrityError."""
    if len(data) != descriptor.size:
        raise IntegrityError(
            f"{descriptor.digest.short}: got {len(data)} bytes, descriptor says {descriptor.size}"
        )
    descriptor.digest.verify(data)
    return data
