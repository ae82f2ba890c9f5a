"""Run the reference cosign binary with its own home: no tlog, no prompts, an empty password."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.reference_tools import run_cosign


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
        return run_cosign(
            self.binary, self.home, *args, repository=repository, experimental=experimental
        )

    def __call__(
        self, *args: str, repository: str | None = None, experimental: bool = False
    ) -> None:
        """Run cosign (as :meth:`run`) and assert it succeeded."""
        done = self.run(*args, repository=repository, experimental=experimental)
        assert done.returncode == 0, done.stderr[-2000:]
