"""Push OCI image layouts, manifests and blobs into a registry over the distribution HTTP API.

Test code: a sync httpx client, no retries. Bytes are pushed exactly as stored, so digests are
preserved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import httpx

OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT_ALL: Final = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
REF_NAME: Final = "org.opencontainers.image.ref.name"


class PushError(RuntimeError):
    """The registry refused an upload; the message has the status and body."""


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@contextmanager
def _client(registry_url: str, client: httpx.Client | None) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return
    with httpx.Client(base_url=registry_url, timeout=30.0) as own:
        yield own


def _url(registry_url: str, path: str) -> str:
    return registry_url.rstrip("/") + path


def _check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        raise PushError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response


def blob_exists(
    registry_url: str, repository: str, digest: str, *, client: httpx.Client | None = None
) -> bool:
    """True when ``HEAD /v2/<repository>/blobs/<digest>`` answers 200."""
    with _client(registry_url, client) as c:
        response = c.head(_url(registry_url, f"/v2/{repository}/blobs/{digest}"))
        return response.status_code == 200


def push_blob(
    registry_url: str,
    repository: str,
    data: bytes,
    *,
    digest: str | None = None,
    client: httpx.Client | None = None,
) -> str:
    """Upload ``data`` (POST then PUT ``?digest=``), unless HEAD says it exists; return the digest.

    ``digest`` defaults to the sha256 of ``data``; the registry rejects a wrong one.

    Raises:
        PushError: the registry answered with an unexpected status.
    """
    digest = digest or sha256_digest(data)
    with _client(registry_url, client) as c:
        if blob_exists(registry_url, repository, digest, client=c):
            return digest
        start = _check(c.post(_url(registry_url, f"/v2/{repository}/blobs/uploads/")), 202)
        # Location may be relative; keep its query (?_state=...) and add ours.
        location = httpx.URL(registry_url).join(start.headers["Location"])
        put_url = location.copy_merge_params({"digest": digest})
        _check(
            c.put(put_url, content=data, headers={"Content-Type": "application/octet-stream"}),
            201,
        )
    return digest


def push_manifest(
    registry_url: str,
    repository: str,
    reference: str,
    body: bytes,
    media_type: str,
    *,
    client: httpx.Client | None = None,
) -> str:
    """PUT ``body`` as a manifest under ``reference`` (tag or digest); return its digest.

    Raises:
        PushError: the registry answered with something other than 201, or with another digest.
    """
    digest = sha256_digest(body)
    with _client(registry_url, client) as c:
        response = _check(
            c.put(
                _url(registry_url, f"/v2/{repository}/manifests/{reference}"),
                content=body,
                headers={"Content-Type": media_type},
            ),
            201,
        )
    returned = response.headers.get("Docker-Content-Digest")
    if returned is not None and returned != digest:
        raise PushError(f"registry stored {returned}, expected {digest}")
    return digest


def _read_blob(layout_dir: Path, digest: str) -> bytes:
    algorithm, hex_ = digest.split(":", 1)
    return (layout_dir / "blobs" / algorithm / hex_).read_bytes()


def _push_tree(
    registry_url: str,
    layout_dir: Path,
    repository: str,
    descriptor: dict[str, Any],
    client: httpx.Client,
    done: set[str],
) -> None:
    """Push one manifest/index and everything below it, children first."""
    digest: str = descriptor["digest"]
    if digest in done:
        return
    body = _read_blob(layout_dir, digest)
    media_type: str = descriptor["mediaType"]
    document: dict[str, Any] = json.loads(body)
    if media_type in INDEX_TYPES:
        for child in document.get("manifests", []):
            _push_tree(registry_url, layout_dir, repository, child, client, done)
    else:
        for blob in [document["config"], *document.get("layers", [])]:
            blob_path = layout_dir / "blobs" / Path(*blob["digest"].split(":", 1))
            data = blob_path.read_bytes() if blob_path.is_file() else None
            if data is None and "data" in blob:  # inline data, e.g. the OCI empty config
                data = base64.b64decode(blob["data"])
            if data is None:
                raise FileNotFoundError(blob_path)
            push_blob(registry_url, repository, data, digest=blob["digest"], client=client)
    push_manifest(registry_url, repository, digest, body, media_type, client=client)
    done.add(digest)


def push_layout(
    registry_url: str,
    layout_dir: Path,
    repository: str,
    *,
    tags: list[str] | None = None,
    client: httpx.Client | None = None,
) -> dict[str, str]:
    """Push an OCI image layout, digests preserved; return ``{tag: root digest}``.

    Every ``index.json`` entry is pushed (nested indexes recursively, children before parents),
    then each entry with an ``org.opencontainers.image.ref.name`` annotation is tagged with it.
    ``tags`` restricts tagging to those names (each must exist in ``index.json``).

    Raises:
        PushError: the registry refused something.
        KeyError: a requested tag is not in ``index.json``.
    """
    index: dict[str, Any] = json.loads((layout_dir / "index.json").read_text())
    entries: list[dict[str, Any]] = index["manifests"]
    named = {
        d["annotations"][REF_NAME]: d for d in entries if REF_NAME in (d.get("annotations") or {})
    }
    wanted = list(named) if tags is None else tags
    for tag in wanted:
        if tag not in named:
            raise KeyError(f"tag {tag!r} not in {layout_dir / 'index.json'}")
    result: dict[str, str] = {}
    with _client(registry_url, client) as c:
        done: set[str] = set()
        for entry in entries:
            _push_tree(registry_url, layout_dir, repository, entry, c, done)
        for tag in wanted:
            entry = named[tag]
            body = _read_blob(layout_dir, entry["digest"])
            result[tag] = push_manifest(
                registry_url, repository, tag, body, entry["mediaType"], client=c
            )
    return result


def pull_layout(
    registry_url: str, repository: str, dest: Path, *, client: httpx.Client | None = None
) -> dict[str, str]:
    """Copy every tag of ``repository`` into the OCI image layout ``dest``, digests preserved;
    return ``{tag: root digest}``. The inverse of :func:`push_layout`.

    Each tag is fetched once, then every child manifest and blob by digest (skopeo refuses
    cosign's referrers fallback index with ``--preserve-digests``, hence this copier).
    ``dest`` is replaced.

    Raises:
        PushError: the registry refused a request.
        ValueError: a blob's bytes do not hash to its digest.
    """
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "blobs" / "sha256").mkdir(parents=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries: list[dict[str, Any]] = []
    with _client(registry_url, client) as c:

        def save(data: bytes, expected: str | None = None) -> str:
            digest = sha256_digest(data)
            if expected is not None and digest != expected:
                raise ValueError(f"{expected} served bytes hashing to {digest}")
            (dest / "blobs" / "sha256" / digest[7:]).write_bytes(data)
            return digest

        def manifest(reference: str) -> tuple[str, bytes]:
            url = _url(registry_url, f"/v2/{repository}/manifests/{reference}")
            response = _check(c.get(url, headers={"Accept": ACCEPT_ALL}), 200)
            return response.headers["Content-Type"], response.content

        def tree(data: bytes, expected: str | None = None) -> str:
            digest = save(data, expected)
            document = json.loads(data)
            for child in document.get("manifests", []):
                tree(manifest(child["digest"])[1], child["digest"])
            if "config" in document:
                for blob in [document["config"], *document.get("layers", [])]:
                    url = _url(registry_url, f"/v2/{repository}/blobs/{blob['digest']}")
                    save(_check(c.get(url), 200).content, blob["digest"])
            return digest

        tags_url = _url(registry_url, f"/v2/{repository}/tags/list")
        result: dict[str, str] = {}
        for tag in sorted(_check(c.get(tags_url), 200).json()["tags"] or []):
            media_type, data = manifest(tag)
            result[tag] = tree(data)
            entries.append(
                {
                    "mediaType": media_type,
                    "digest": result[tag],
                    "size": len(data),
                    "annotations": {REF_NAME: tag},
                }
            )
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    (dest / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return result
