"""The README's commands and example work as written (from the repository root)."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

import provcheck
from provcheck.cli import main
from tests.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_main_job_command_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _blocks("sh")[0]
    command = next(line for line in first.splitlines() if "provcheck verify" in line)
    argv = shlex.split(command.split(".venv/bin/provcheck", 1)[1])
    monkeypatch.chdir(REPO_ROOT)
    assert main(argv) == 0
    assert "verdict: PASS" in capsys.readouterr().out


def test_test_command_is_what_ci_runs() -> None:
    first = _blocks("sh")[0]
    assert "bash scripts/check.sh" in first
    assert "scripts/check.sh" in (REPO_ROOT / ".ci" / "run").read_text()


def test_library_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (example,) = _blocks("python")
    monkeypatch.chdir(REPO_ROOT)
    exec(compile(example, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        f"{p} {t} unsigned"
        for p in ("linux/amd64", "linux/arm64")
        for t in ("https://spdx.dev/Document", "https://slsa.dev/provenance/v0.2")
    ]
    assert lines[4].startswith("pass [")


def test_library_example_uses_only_the_public_api() -> None:
    (example,) = _blocks("python")
    tree = ast.parse(example)
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    ours = [n for n in imports if isinstance(n, ast.ImportFrom) and n.module == "provcheck"]
    names = {alias.name for node in ours for alias in node.names}
    assert names and names <= set(provcheck.__all__)
    others = {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in imports}
    assert not {m for m in others if m and m.startswith("provcheck.")}  # no plumbing


def test_readme_paths_exist() -> None:
    for path in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in path:
            assert (REPO_ROOT / path).exists(), path
    assert Path(REPO_ROOT / "fixtures/real/g-sbom-generator/oci-layout/index.json").exists()
