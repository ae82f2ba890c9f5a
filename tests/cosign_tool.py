"""Run the reference cosign binary with its own home: no tlog, no prompts, an empty password."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cosign:
    """cosign at ``binary``, with ``home`` as its ``HOME``, working directory and key folder."""

    binary: Path
    home: Path

    def run(
        self, *args: str, repository: str | None = None, experimental: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run cosign; ``repository`` is its ``COSIGN_REPOSITORY``, ``experimental`` sets
        ``COSIGN_EXPERIMENTAL``."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "DOCKER_CONFIG": str(self.home / "docker"),
            "COSIGN_PASSWORD": "",
            "COSIGN_YES": "true",
            **({"COSIGN_EXPERIMENTAL": "1"} if experimental else {}),
            **({"COSIGN_REPOSITORY": repository} if repository is not None else {}),
        }
        return subprocess.run(
            [str(self.binary), *args],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def __call__(
        self, *args: str, repository: str | None = None, experimental: bool = False
    ) -> None:
        """Run cosign (as :meth:`run`) and assert it succeeded."""
        done = self.run(*args, repository=repository, experimental=experimental)
        assert done.returncode == 0, done.stderr[-2000:]
