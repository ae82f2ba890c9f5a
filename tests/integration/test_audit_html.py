"""The HTML report of a mixed fleet through the real CLI: its DOM, and (with Debian's
chromium) a headless screenshot that shows something (skipped without it, fails in CI)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

from provcheck.cli import main
from tests.integration.test_verify_cli import POLICY
from tests.reference_tools import skip_or_fail
from tests.registry import RealRegistry
from tests.unit.audit.test_html import Dom

CASES = ("b-multi-max", "c-secrets-max", "g-sbom-generator", "h-no-attest", "e3-syntax-evil")


@pytest.fixture
def report(real_registry: RealRegistry, tmp_path: Path) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    fleet = [real_registry.ref(case) for case in CASES]
    fleet.append(f"{real_registry.host}/lab/no-such-image:1")
    out = tmp_path / "report.html"
    args = ["audit", "--policy", str(policy), "--format", "html", "--output", str(out), *fleet]
    assert main(args) == 3
    return out


def test_the_html_report_of_a_mixed_fleet(report: Path) -> None:
    page = report.read_text()
    dom = Dom()
    dom.feed(page)
    assert [row["data-verdict"] for row in dom.rows] == [
        "pass",
        "fail",
        "pass",
        "fail",
        "fail",
        "error",
    ]
    assert "6 images: 2 pass, 3 fail, 1 error" in page
    assert dom.urls == [] and "https://" not in page and "http://" not in page


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "chromium not found: apt-get install chromium (scripts/check.sh does)"
        skip_or_fail(message)
    return found


def _pixels(png: bytes) -> set[bytes]:
    """The distinct scanlines' bytes of a PNG (its IDAT data inflated)."""
    pos, data = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(data)
    return {raw[i : i + 3] for i in range(0, len(raw), 97)}


def _headless(chromium: str, *args: str) -> str:
    """Run headless chromium (no network, a fresh profile); its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout


def test_a_headless_chromium_screenshot_shows_the_report(report: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    shot = tmp_path / "audit.png"
    _headless(chromium, f"--screenshot={shot}", "--window-size=1400,1000", report.as_uri())
    # the inline script ran (it counts the rows it shows)
    assert '<span id="shown" class="muted">6 of 6 shown</span>' in _headless(
        chromium, "--dump-dom", report.as_uri()
    )
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    assert len(_pixels(png)) > 50  # not one colour: text, bars and badges were drawn
