"""Cold CLI runs of ``provcheck inspect`` / ``verify`` next to ``docker buildx imagetools inspect``.

Starts Debian's docker-registry on a free loopback port, loads the real BuildKit images of
``fixtures/real/`` into it, then times whole processes (median of ``--runs``) and counts the HTTP
requests each made in the registry's access log. Goals (issue 2): for ``b-multi-max``
``inspect --format provenance`` makes at most 7 requests (buildx: 16) and is no slower than
buildx. Issue 3: the cost of ``verify`` next to ``inspect`` for every real case.

    .venv/bin/python bench/inspect_bench.py [--runs 7] [--cases b-multi-max c-secrets-max]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.paths import REAL_CASES  # noqa: E402
from tests.reference_tools import TOOLS_BIN  # noqa: E402
from tests.registry import RegistryServer, load_real_cases  # noqa: E402

PROVCHECK = [str(ROOT / ".venv" / "bin" / "provcheck")]
POLICY = ROOT / "policies" / "baseline.yaml"


def measure(
    server: RegistryServer, argv: Sequence[str], runs: int, home: Path
) -> tuple[float, int]:
    """Median wall time (s) over ``runs`` cold processes, and requests made by the last run."""
    env = {**os.environ, "HOME": str(home), "BUILDX_CONFIG": str(home / "buildx")}
    times: list[float] = []
    requests = 0
    for _ in range(runs):
        mark = server.mark()
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, env=env, timeout=120)
        times.append(time.perf_counter() - start)
        requests = len(server.requests_since(mark))
    return statistics.median(times), requests


async def _warm(ref: str, runs: int) -> float:
    """Median seconds per inspection with one shared client (a webhook's warm path)."""
    from provcheck.api import inspect_image_async
    from provcheck.discovery.options import DiscoveryOptions
    from provcheck.predicates import PredicateKind
    from provcheck.source.registry import RegistryClient

    options = DiscoveryOptions(kinds=frozenset({PredicateKind.PROVENANCE}))
    times: list[float] = []
    async with RegistryClient() as client:
        for _ in range(runs + 1):
            start = time.perf_counter()
            await inspect_image_async(ref, options=options, client=client)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", nargs="*", default=list(REAL_CASES))
    args = parser.parse_args()
    buildx = TOOLS_BIN / "buildx"
    if not buildx.exists():
        print("(buildx not found: run scripts/reference-tools.sh to compare)", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "registry") as server:
        refs = load_real_cases(server).refs
        home = Path(tmp) / "home"
        home.mkdir()
        header = f"{'case':<18} {'command':<30} {'wall ms':>8} {'requests':>8}"
        print(header)
        print("-" * len(header))
        for case in args.cases:
            ref = refs[case]
            rows = [
                (
                    "provcheck inspect provenance",
                    [*PROVCHECK, "inspect", ref, "--format", "provenance"],
                ),
                ("provcheck verify baseline", [*PROVCHECK, "verify", ref, "--policy", str(POLICY)]),
            ]
            if buildx.exists():
                template = "{{json .Provenance}}"
                rows.append(
                    (
                        "buildx imagetools inspect",
                        [str(buildx), "imagetools", "inspect", "--format", template, ref],
                    )
                )
            results = {name: measure(server, argv, args.runs, home) for name, argv in rows}
            for name, (wall, requests) in results.items():
                print(f"{case:<18} {name:<30} {wall * 1000:>8.0f} {requests:>8}")
            warm = asyncio.run(_warm(ref, args.runs * 3))
            print(f"{case:<18} {'provcheck API, warm client':<30} {warm * 1000:>8.1f}")
            if "buildx imagetools inspect" in results:
                ours = results["provcheck inspect provenance"]
                theirs = results["buildx imagetools inspect"]
                print(
                    f"{case:<18} {'ratio provcheck/buildx':<30} {ours[0] / theirs[0]:>8.2f} "
                    f"{ours[1] / max(theirs[1], 1):>8.2f}"
                )


if __name__ == "__main__":
    main()
