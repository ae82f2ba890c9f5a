"""The registry write path: upload a blob, put a manifest (what ``verify --attach`` needs).

Requests go through the same transport as reads (auth with the registry's push scope from its
challenge, retries, deadline, no credentials over plain HTTP to other hosts). Every write is
digest-checked: a blob is named by the digest of its bytes, and the ``Docker-Content-Digest``
the registry answers with must be that digest, else :class:`IntegrityError`.
"""

from __future__ import annotations

from typing import Final

import httpx

from provcheck.errors import IntegrityError, NotFoundError, RegistryError
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor
from provcheck.source.registry.client import RegistrySource
from provcheck.source.registry.transport import Fetched, Upload

_ANSWER_MAX_BYTES: Final = 64 * 1024
_MAX_PUSH_BYTES: Final = 4 * 1024 * 1024
"""The most one push sends (envelopes and manifests are small)."""


def _check_answer(fetched: Fetched, digest: Digest, what: str) -> None:
    answered = fetched.headers.get("docker-content-digest")
    if answered is not None and answered != str(digest):
        raise IntegrityError(f"the registry stored {what} as {answered[:80]}, not {digest}")


async def _send(
    source: RegistrySource,
    method: str,
    url: str,
    what: str,
    upload: Upload | None = None,
) -> Fetched:
    def over(seen: int) -> RegistryError:
        return RegistryError(f"answer to {method} {what} is larger than {_ANSWER_MAX_BYTES} bytes")

    return await source._get(  # one package: the read path's transport, with a body
        url,
        accept=None,
        limit=_ANSWER_MAX_BYTES,
        over_limit=over,
        what=what,
        deadline=source._deadline,
        method=method,
        upload=upload,
    )


async def push_blob(source: RegistrySource, data: bytes, media_type: str) -> Descriptor:
    """Upload ``data`` (unless the repository has it already) and return its descriptor.

    Raises :class:`RegistryError` and its subclasses, :class:`IntegrityError` when the
    registry names another digest.
    """
    if len(data) > _MAX_PUSH_BYTES:
        raise RegistryError(f"refusing to push {len(data)} bytes (at most {_MAX_PUSH_BYTES})")
    digest = Digest.of(data)
    descriptor = Descriptor(media_type, digest, len(data))
    what = f"blob {digest.short}"
    try:
        await _send(source, "HEAD", f"{source._base}/blobs/{digest}", what)
        return descriptor
    except NotFoundError:
        pass
    started = await _send(
        source,
        "POST",
        f"{source._base}/blobs/uploads/",
        f"upload of {what}",
        Upload(b"", "application/octet-stream", frozenset({202})),
    )
    location = started.headers.get("location")
    if not location:
        raise RegistryError(f"{source.display_name} started an upload without a Location")
    url = httpx.URL(started.url).join(location).copy_merge_params({"digest": str(digest)})
    done = await _send(
        source,
        "PUT",
        str(url),
        what,
        Upload(data, "application/octet-stream", frozenset({201})),
    )
    _check_answer(done, digest, what)
    return descriptor


async def push_manifest(
    source: RegistrySource, tag: str, data: bytes, media_type: str
) -> Descriptor:
    """Put the manifest ``data`` at ``tag`` and return its descriptor.

    Raises :class:`RegistryError` and its subclasses, :class:`IntegrityError` when the
    registry names another digest.
    """
    if len(data) > _MAX_PUSH_BYTES:
        raise RegistryError(f"refusing to push a manifest of {len(data)} bytes")
    digest = Digest.of(data)
    what = f"manifest {tag}"
    done = await _send(
        source,
        "PUT",
        f"{source._base}/manifests/{tag}",
        what,
        Upload(data, media_type, frozenset({201})),
    )
    _check_answer(done, digest, what)
    return Descriptor(media_type, digest, len(data))
