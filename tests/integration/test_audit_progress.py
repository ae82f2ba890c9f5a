"""Audit progress through the real CLI: plain lines when stderr is not a terminal, a tqdm bar
when it is (a pty in a subprocess), nothing with -q."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from provcheck.cli import main
from tests.integration.test_verify_cli import POLICY
from tests.registry import RealRegistry

PROVCHECK = Path(sys.executable).parent / "provcheck"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _fleet(real_registry: RealRegistry) -> list[str]:
    cases = ("b-multi-max", "c-secrets-max", "g-sbom-generator")
    return [real_registry.ref(case) for case in cases]


def test_plain_progress_lines_when_stderr_is_not_a_terminal(
    real_registry: RealRegistry, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = _fleet(real_registry)
    assert main(["audit", "--policy", str(policy), "--format", "jsonl", *fleet]) == 1
    err = capsys.readouterr().err.splitlines()
    progress = [line for line in err if line.startswith("provcheck: audited ")]
    assert progress == [  # in input order: each image as it is emitted
        "provcheck: audited 1/3 images (1 pass, 0 fail, 0 error)",
        "provcheck: audited 2/3 images (1 pass, 1 fail, 0 error)",
        "provcheck: audited 3/3 images (2 pass, 1 fail, 0 error)",
    ]
    assert err[-1] == "provcheck: 3 images: 2 pass, 1 fail, 0 error"
    assert "\r" not in "".join(err)


def test_quiet_prints_nothing_on_stderr(
    real_registry: RealRegistry, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["audit", "-q", "--policy", str(policy), "--format", "jsonl", *_fleet(real_registry)]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert err == "" and len(out.splitlines()) == 3


def _on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pty (stdout a pipe): exit code, stdout, terminal output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # rows, columns
    with subprocess.Popen([str(PROVCHECK), *args], stdout=subprocess.PIPE, stderr=slave) as proc:
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        out = proc.stdout.read() if proc.stdout is not None else b""
        code = proc.wait(timeout=60)
    os.close(master)
    return code, out.decode(), b"".join(chunks).decode(errors="replace")


def test_a_bar_on_a_terminal_and_nothing_with_quiet(
    real_registry: RealRegistry, policy: Path
) -> None:
    fleet = _fleet(real_registry)
    code, out, terminal = _on_a_terminal(
        ["audit", "--policy", str(policy), "--format", "jsonl", *fleet]
    )
    assert code == 1 and len(out.splitlines()) == 3
    assert re.search(r"\d+%\|.*\| [0-3]/3 \[.*image/s", terminal), terminal  # tqdm's bar
    assert "\r" in terminal and "provcheck: audited" not in terminal
    assert terminal.endswith("\rprovcheck: 3 images: 2 pass, 1 fail, 0 error\r\n")  # bar cleared
    code, out, terminal = _on_a_terminal(
        ["audit", "-q", "--policy", str(policy), "--format", "jsonl", *fleet]
    )
    assert code == 1 and len(out.splitlines()) == 3 and terminal == ""


def test_tqdm_is_imported_only_for_the_bar() -> None:
    script = (
        "import sys, io, provcheck.cli, provcheck.audit.progress as p\n"
        "p.progress(3, io.StringIO())\n"
        "print('tqdm' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout == "False\n"
