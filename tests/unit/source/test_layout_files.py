"""An OCI layout is read like hostile input: every file capped, only regular files, and never
through a symbolic link below the layout directory (issue 14.11), even one swapped in while it
is being read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from provcheck._internal.files import read_regular
from provcheck.api import inspect_image
from provcheck.cli import main
from provcheck.discovery.model import ProblemKind
from provcheck.discovery.options import DiscoveryOptions
from provcheck.errors import UsageError
from provcheck.oci.digest import Digest
from provcheck.predicates import PredicateKind
from provcheck.source.layout import MARKER_MAX_BYTES, LayoutSource
from tests.oci_builder import ImageBuilder, provenance_statement


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    """A one-platform image with provenance, and the path of its provenance layer blob."""
    builder = ImageBuilder("files")
    entry = builder.add_platform("linux/amd64")
    attestation = builder.attest(entry, [provenance_statement(entry.digest)])
    layout = builder.build().write_layout(tmp_path / "layout")
    (statement,) = [d for d, data in attestation.blobs.items() if b'"_type"' in data]
    return layout, layout / "blobs" / "sha256" / Digest.parse(statement).hex


def test_an_oversized_oci_layout_marker_is_refused(tmp_path: Path) -> None:
    layout, _ = _layout(tmp_path)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}' + " " * 10_000_000)
    with pytest.raises(UsageError, match=f"larger than {MARKER_MAX_BYTES} bytes"):
        LayoutSource(layout)


@pytest.mark.parametrize("name", ["oci-layout", "index.json"])
def test_layout_files_that_are_devices_are_refused(tmp_path: Path, name: str) -> None:
    """``/dev/zero`` has size 0, so a size check passes, and reading it never ends."""
    layout, _ = _layout(tmp_path)
    (layout / name).unlink()
    (layout / name).symlink_to("/dev/zero")
    with pytest.raises(UsageError, match="is a symbolic link or lies under one"):
        LayoutSource(layout)


def test_a_fifo_index_is_refused_without_blocking(tmp_path: Path) -> None:
    layout, _ = _layout(tmp_path)
    (layout / "index.json").unlink()
    os.mkfifo(layout / "index.json")
    with pytest.raises(UsageError, match=r"index\.json is not a regular file"):
        LayoutSource(layout)


def test_the_cli_refuses_a_device_index_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout, _ = _layout(tmp_path)
    (layout / "index.json").unlink()
    os.mkfifo(layout / "index.json")
    assert main(["inspect", f"oci-layout://{layout}:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "index.json is not a regular file" in err


def test_a_blob_linked_out_of_the_layout_is_not_read(tmp_path: Path) -> None:
    """Even with the right bytes: the layout names the file, whoever owns the target."""
    layout, blob = _layout(tmp_path)
    outside = tmp_path / "elsewhere"
    shutil.move(blob, outside)
    blob.symlink_to(outside)
    found = inspect_image(f"oci-layout://{layout}:1", options=DiscoveryOptions())
    assert not list(found.images[0].statements(PredicateKind.PROVENANCE))
    problems = [p for p in found.all_problems() if "symbolic link" in p.message]
    assert [p.kind for p in problems] == [ProblemKind.MALFORMED]


def test_a_fifo_blob_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    layout, blob = _layout(tmp_path)
    blob.unlink()
    os.mkfifo(blob)
    found = inspect_image(f"oci-layout://{layout}:1", options=DiscoveryOptions())
    assert any("not a regular file" in p.message for p in found.all_problems())


def test_links_inside_the_layout_are_refused_too(tmp_path: Path) -> None:
    """BuildKit, oras and skopeo never write a link into a layout: none is followed (the real
    fixtures have none, see below), so none can be swapped to lead out."""
    layout, blob = _layout(tmp_path)
    shutil.move(blob, layout / "moved")
    blob.symlink_to(Path("..") / ".." / "moved")
    found = inspect_image(f"oci-layout://{layout}:1", options=DiscoveryOptions())
    assert not list(found.images[0].statements(PredicateKind.PROVENANCE))
    assert any("symbolic link" in p.message for p in found.all_problems())


def test_the_real_layouts_hold_no_links() -> None:
    real = Path(__file__).parents[3] / "fixtures" / "real"
    layouts = [marker.parent for marker in real.rglob("oci-layout")]
    assert layouts
    assert not [p for layout in layouts for p in layout.rglob("*") if p.is_symlink()]


def test_a_link_to_the_layout_itself_is_followed(tmp_path: Path) -> None:
    """The user names the layout directory: a link there is theirs."""
    layout, _ = _layout(tmp_path)
    (tmp_path / "named").symlink_to(layout)
    found = inspect_image(f"oci-layout://{tmp_path / 'named'}:1", options=DiscoveryOptions())
    assert len(list(found.images[0].statements(PredicateKind.PROVENANCE))) == 1


def test_a_directory_swapped_for_a_link_while_reading_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of a check-then-open: ``blobs`` is replaced by a link to a copy outside with
    other bytes at the first ``open`` (after any check a reader made on the path)."""
    layout, blob = _layout(tmp_path)
    outside = tmp_path / "outside"
    shutil.copytree(layout / "blobs", outside)
    (outside / blob.relative_to(layout / "blobs")).write_bytes(b"attacker's bytes")
    real_open = os.open
    swapped: list[str] = []

    def swap_then_open(*args: Any, **kwargs: Any) -> int:
        if not swapped:
            swapped.append("blobs")
            (layout / "blobs").rename(tmp_path / "old-blobs")
            (layout / "blobs").symlink_to(outside)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(os, "open", swap_then_open)
    with pytest.raises(UsageError, match="symbolic link"):
        read_regular(blob, 1000, "blob", UsageError, within=layout)
    assert swapped


def test_a_path_outside_the_layout_is_refused(tmp_path: Path) -> None:
    layout, _ = _layout(tmp_path)
    with pytest.raises(UsageError, match="not inside"):
        read_regular(layout / ".." / "x", 10, "blob", UsageError, within=layout)
