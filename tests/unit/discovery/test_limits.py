"""The total work of one image is bounded (issue 14.7): nested indexes cannot multiply the
1,000-entry fan-out cap, and past a limit the image is refused in one line, exit code 3."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from provcheck.api import inspect_image
from provcheck.cli import main
from provcheck.discovery.buildkit import discover
from provcheck.discovery.limits import Limits
from provcheck.discovery.options import DiscoveryOptions
from provcheck.errors import LimitExceededError, UsageError
from provcheck.oci.model import Descriptor
from provcheck.source.layout import LayoutSource
from tests.oci_builder import (
    BuiltImage,
    ImageBuilder,
    descriptor,
    manifest_bytes,
    provenance_statement,
)
from tests.oci_push import OCI_INDEX
from tests.paths import REPO_ROOT


def _nested_bomb(fan_out: int, levels: int) -> BuiltImage:
    """A root index of ``fan_out`` entries that all name one nested index of ``fan_out``
    entries, ``levels`` indexes deep, above one platform image: ``fan_out ** levels``
    descriptors from ``levels`` small files."""
    builder = ImageBuilder("bomb")
    entry = builder.add_platform("linux/amd64")
    blobs = dict(entry.blobs)
    child = entry.descriptor
    for _ in range(levels):
        body = manifest_bytes(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child] * fan_out}
        )
        child = descriptor(OCI_INDEX, body)
        blobs[child["digest"]] = body
    return BuiltImage(root=child, blobs=blobs)


class CountingLayout(LayoutSource):
    """A layout that counts the manifests it is asked for."""

    fetches = 0

    async def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        self.fetches += 1
        return await super().fetch_manifest(descriptor)


def test_a_nested_index_bomb_is_refused_after_bounded_work(tmp_path: Path) -> None:
    bomb = _nested_bomb(fan_out=40, levels=3)  # 64,000 platform entries, 1,640 index reads
    layout = bomb.write_layout(tmp_path / "bomb")
    assert sum(f.stat().st_size for f in layout.rglob("*") if f.is_file()) < 30_000
    source = CountingLayout(layout)
    root = asyncio.run(source.resolve("1"))
    with pytest.raises(LimitExceededError, match="more than 10000 descriptors"):
        asyncio.run(discover(source, root, reference="bomb"))
    assert source.fetches <= 10_000 // 40 + 1


@pytest.mark.parametrize("command", ["inspect", "verify"])
def test_the_cli_refuses_the_bomb_in_one_line_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    layout = _nested_bomb(fan_out=40, levels=3).write_layout(tmp_path / "bomb")
    policy = ["--policy", str(REPO_ROOT / "policies" / "baseline.yaml")]
    args = [command, f"oci-layout://{layout}:1", *(policy if command == "verify" else [])]
    assert main(args) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "provcheck: error: image refused: more than 10000 descriptors to read (nested indexes?)\n"
    )


def test_indexes_nested_past_the_depth_limit_refuse_the_image(tmp_path: Path) -> None:
    layout = _nested_bomb(fan_out=1, levels=5).write_layout(tmp_path / "deep")
    with pytest.raises(LimitExceededError, match="nested more than 4 levels"):
        inspect_image(f"oci-layout://{layout}:1")
    assert len(inspect_image(f"oci-layout://{layout}:1", options=_limits(max_depth=5)).images) == 1


def _limits(**limits: int) -> DiscoveryOptions:
    return DiscoveryOptions(limits=Limits(**limits), signature_stores=True)


def _image(tmp_path: Path) -> str:
    builder = ImageBuilder("limits")
    for platform in ("linux/amd64", "linux/arm64"):
        entry = builder.add_platform(platform)
        builder.attest(entry, [provenance_statement(entry.digest, platform=platform)])
    return f"oci-layout://{builder.build().write_layout(tmp_path / 'image')}:1"


def test_every_limit_counts_the_whole_image(tmp_path: Path) -> None:
    reference = _image(tmp_path)
    found = inspect_image(reference, options=_limits())
    assert len(found.images) == 2 and not list(found.all_problems())
    with pytest.raises(LimitExceededError, match="more than 5 descriptors"):
        inspect_image(reference, options=_limits(max_descriptors=5))
    with pytest.raises(LimitExceededError, match="more than 4000 bytes"):
        inspect_image(reference, options=_limits(max_bytes=4000))
    with pytest.raises(LimitExceededError, match="nested more than 1 levels"):
        inspect_image(
            f"oci-layout://{_nested_bomb(1, 2).write_layout(tmp_path / 'two')}:1",
            options=_limits(max_depth=1),
        )


def test_limits_are_a_frozen_value_with_documented_defaults() -> None:
    limits = Limits()
    assert (limits.max_depth, limits.max_descriptors, limits.max_bytes) == (4, 10_000, 1 << 30)
    assert DiscoveryOptions().limits == limits
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_depth = 9  # type: ignore[misc]
    with pytest.raises(UsageError, match="max_bytes must be at least 1"):
        Limits(max_bytes=0)
