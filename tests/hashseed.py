"""Run Python code in fresh interpreters under different ``PYTHONHASHSEED`` values.

A determinism check inside one process proves nothing: set and dict-of-str orders, ``id()``
and anything keyed by ``hash()`` repeat within a process. Two processes with two hash seeds is
what a user's two runs are."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Final

from tests.paths import REPO_ROOT

SEEDS: Final = ("0", "4242")
_HASH_PROBE: Final = 'import sys; sys.stderr.write(str(hash("provcheck")))'


def run_under_seeds(code: str, timeout: float = 120) -> list[bytes]:
    """The stdout of ``python -c code`` under each of :data:`SEEDS`, run from the repository
    root. Fails when a run fails or when the seeds did not give different string hashes (the
    comparison would prove nothing)."""
    outputs, hashes = [], []
    for seed in SEEDS:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", f"{code}\n{_HASH_PROBE}"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
        outputs.append(done.stdout)
        hashes.append(done.stderr.rsplit(b"\n", 1)[-1])
    assert len(set(hashes)) == len(SEEDS), "PYTHONHASHSEED did not change string hashes"
    return outputs
