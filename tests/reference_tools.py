"""The reference clients (buildx, cosign, oras) that scripts/reference-tools.sh unpacks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from tests.paths import REPO_ROOT

TOOLS_BIN = Path(os.environ.get("PROVCHECK_TOOLS", REPO_ROOT / ".tools")) / "bin"


def skip_or_fail(message: str) -> NoReturn:
    """A prerequisite is missing: skip the test locally, fail it under ``CI=true`` (where every
    prerequisite is installed, so a missing one is a broken job, not a reason to skip)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def reference_tool(name: str) -> Path:
    """Path of a reference tool; skips the test when it is missing, fails when ``CI=true``."""
    path = TOOLS_BIN / name
    if path.exists():
        return path
    found = shutil.which(name)
    if found:
        return Path(found)
    message = f"{name} not found: run scripts/reference-tools.sh"
    skip_or_fail(message)


def run_tool(tool: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run a reference tool with a private config directory and a time limit."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "BUILDX_CONFIG": str(home / "buildx"),
        "DOCKER_CONFIG": str(home / "docker"),
    }
    return subprocess.run(
        [str(tool), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def run_cosign(
    binary: Path,
    home: Path,
    *args: str,
    repository: str | None = None,
    experimental: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run cosign in ``home`` (its own ``HOME`` and Docker config; keys without a password, no
    prompts); ``repository`` is its ``COSIGN_REPOSITORY``, ``experimental`` sets
    ``COSIGN_EXPERIMENTAL``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / "docker"),
        "COSIGN_PASSWORD": "",
        "COSIGN_YES": "true",
        **({"COSIGN_EXPERIMENTAL": "1"} if experimental else {}),
        **({"COSIGN_REPOSITORY": repository} if repository is not None else {}),
    }
    return subprocess.run(
        [str(binary), *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
