"""``provcheck sbom`` on an image whose only SBOM is rejected: the warning that says why comes
first, then the one error line, exit 3 (the real oras-attached SBOM of fixtures/sbom-stores,
one byte of it changed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from provcheck.cli import main
from tests.paths import FIXTURES_DIR

STORES = FIXTURES_DIR / "sbom-stores"
BLOB = json.loads((STORES / "cases.json").read_text())["tampered"]["sbom-blob"]


def test_a_rejected_sbom_is_warned_about_before_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = tmp_path / "tampered"
    shutil.copytree(STORES / "tampered", layout)
    blob = layout / "blobs" / "sha256" / BLOB.split(":")[1]
    data = blob.read_bytes()
    at = data.index(b"left-pad")
    blob.write_bytes(data[:at] + b"r" + data[at + 1 :])  # same size, another digest
    code = main(["sbom", f"oci-layout://{layout}:1"])
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    warning, error = err.splitlines()
    assert warning.startswith("provcheck: warning: integrity: ") and BLOB in warning
    assert error.startswith("provcheck: error: no usable SBOM is bound to oci-layout://")
