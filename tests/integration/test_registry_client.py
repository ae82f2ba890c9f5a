"""RegistryClient against the real docker-registry (distribution 2.8) loaded with real layouts."""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from provcheck.errors import IntegrityError, NotFoundError
from provcheck.oci import mediatypes as mt
from provcheck.oci.digest import Digest
from provcheck.oci.model import Descriptor, ImageIndex, ImageManifest, parse_manifest
from provcheck.oci.reference import ImageReference
from provcheck.source.base import CONFIG_MAX_BYTES
from provcheck.source.registry import RegistryClient, RegistryOptions, StaticCredentials
from provcheck.source.store import MemoryStore
from tests.paths import real_case
from tests.registry import RealRegistry

CASE = "b-multi-max"


def _options(tmp_path: Path) -> RegistryOptions:
    return RegistryOptions(docker_config_dir=tmp_path / "no-docker-config", backoff_base=0.0)


def _layout_root(case: str) -> dict[str, Any]:
    index = json.loads((real_case(case) / "oci-layout" / "index.json").read_text())
    root: dict[str, Any] = index["manifests"][0]
    return root


def test_resolve_fetch_all_children_and_a_blob(real_registry: RealRegistry, tmp_path: Path) -> None:
    async def run() -> None:
        ref = ImageReference.parse(real_registry.ref(CASE))
        async with RegistryClient(_options(tmp_path)) as client:
            source = client.source(ref)
            root, body = await source.resolve(ref.api_reference)
            assert client.requests_made == 1  # one GET, no HEAD, no auth on distribution 2.8
            expected = _layout_root(CASE)
            assert str(root.digest) == expected["digest"]
            assert root.media_type == expected["mediaType"] == mt.OCI_INDEX
            assert root.size == expected["size"] == len(body)
            assert body == (real_case(CASE) / "index.raw.json").read_bytes()
            index = parse_manifest(body, root.media_type)
            assert isinstance(index, ImageIndex)
            assert len(index.manifests) >= 2
            children = await asyncio.gather(*(source.fetch_manifest(d) for d in index.manifests))
            manifests = [
                parse_manifest(data, d.media_type)
                for d, data in zip(index.manifests, children, strict=True)
            ]
            assert all(isinstance(m, ImageManifest) for m in manifests)
            first = manifests[0]
            assert isinstance(first, ImageManifest)
            config = await source.fetch_blob(first.config, CONFIG_MAX_BYTES)
            assert Digest.of(config) == first.config.digest
            assert client.requests_made == 2 + len(index.manifests)
            # Same bytes by digest; a lying descriptor is caught.
            again, _ = await source.resolve(root.digest)
            assert again == root
            wrong = Descriptor(first.config.media_type, Digest.of(b"x"), first.config.size)
            with pytest.raises(NotFoundError):
                await source.fetch_blob(wrong, CONFIG_MAX_BYTES)
            lying = Descriptor(root.media_type, root.digest, root.size - 1)
            with pytest.raises(IntegrityError):
                await source.fetch_manifest(lying)

    asyncio.run(run())


def test_missing_tag_and_repository(real_registry: RealRegistry, tmp_path: Path) -> None:
    async def run() -> None:
        ref = ImageReference.parse(real_registry.ref(CASE))
        async with RegistryClient(_options(tmp_path)) as client:
            source = client.source(ref)
            with pytest.raises(
                NotFoundError, match=re.escape(f"manifest no-such-tag not found in {ref.name}")
            ):
                await source.resolve("no-such-tag")
            assert await source.fetch_tag("no-such-tag") is None
            tag = await source.fetch_tag(ref.tag or "1")
            assert tag is not None and str(tag[0].digest) == _layout_root(CASE)["digest"]
            missing_repo = ImageReference.parse(f"{real_registry.host}/lab/does-not-exist:1")
            with pytest.raises(NotFoundError) as info:
                await client.source(missing_repo).resolve("1")
            assert info.value.status_code == 404

    asyncio.run(run())


def test_referrers_api_is_unsupported_on_distribution_2_8(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    async def run() -> None:
        ref = ImageReference.parse(real_registry.ref(CASE))
        async with RegistryClient(_options(tmp_path)) as client:
            source = client.source(ref)
            assert await source.referrers(Digest.parse(_layout_root(CASE)["digest"])) is None
            assert client.requests_made == 1

    asyncio.run(run())


class _ImportRecorder(importlib.abc.MetaPathFinder):
    """Records every module that something tries to import (and finds nothing itself)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        self.names.append(fullname)


def test_no_import_is_attempted_on_the_many_request_path(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    """httpcore imports ``sniffio`` on every lock it sets up: without it installed (it is a
    declared dependency), each request retried the failed import, 6 times per request."""
    from provcheck.api import inspect_image_async

    recorder = _ImportRecorder()

    async def run() -> None:
        async with RegistryClient(_options(tmp_path), store=MemoryStore(0)) as client:
            await inspect_image_async(real_registry.ref(CASE), client=client)  # warm: lazy imports
            before = client.requests_made
            sys.meta_path.insert(0, recorder)
            try:
                # Providers of their own: each call makes its requests (none merged).
                await asyncio.gather(
                    *(
                        inspect_image_async(
                            real_registry.ref(CASE),
                            client=client,
                            credentials=StaticCredentials({}),
                        )
                        for _ in range(10)
                    )
                )
            finally:
                sys.meta_path.remove(recorder)
            assert client.requests_made - before >= 10 * 7

    asyncio.run(run())
    assert recorder.names == []
