"""Signature verification inline on the event loop vs off it (``DiscoveryOptions.offload``).

N concurrent verifications of a real signed image through ``oci-layout://`` (i-cosign: cosign
``.att``/``.sig`` tags, key-based; keyless: the sigstore bundle fixture, when the extra is
installed), once per mode: wall time, and the longest the event loop was stalled (a 1 ms ticker
records the largest gap between its wake-ups, i.e. how long a server's other requests waited).

    .venv/bin/python bench/offload_bench.py [--n 1 11 55] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provcheck.api import inspect_image_async, verification_options  # noqa: E402
from provcheck.discovery.offload import Offload  # noqa: E402
from provcheck.discovery.options import DiscoveryOptions  # noqa: E402
from provcheck.policy import load_policy  # noqa: E402
from tests.paths import FIXTURES_DIR  # noqa: E402

I_COSIGN = FIXTURES_DIR / "real" / "i-cosign"
KEYLESS = FIXTURES_DIR / "signed" / "keyless"


async def _ticker(stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def _round(reference: str, options: DiscoveryOptions, n: int) -> tuple[float, float]:
    """Wall time (s) of ``n`` concurrent inspections, and the longest event-loop stall (s)."""
    stop, gaps = asyncio.Event(), list[float]()
    ticker = asyncio.create_task(_ticker(stop, gaps))
    await asyncio.sleep(0.005)
    start = time.perf_counter()
    await asyncio.gather(*(inspect_image_async(reference, options=options) for _ in range(n)))
    wall = time.perf_counter() - start
    stop.set()
    await ticker
    return wall, max(gaps) - 0.001


def _case(name: str, reference: str, base: DiscoveryOptions, sizes: list[int], rounds: int) -> None:
    with ThreadPoolExecutor(2, thread_name_prefix="verify") as pool:
        modes: dict[str, Offload] = {"inline": False, "to_thread": True, "executor(2)": pool}
        for n in sizes:
            for label, offload in modes.items():
                options = replace(base, offload=offload)
                asyncio.run(_round(reference, options, 1))  # warm: imports, caches
                runs = [asyncio.run(_round(reference, options, n)) for _ in range(rounds)]
                wall = statistics.median(r[0] for r in runs) * 1000
                stall = statistics.median(r[1] for r in runs) * 1000
                print(
                    f"{name:9} n={n:<3} {label:12} wall {wall:8.1f} ms  "
                    f"({wall / n:6.2f} ms/image)  longest loop stall {stall:7.2f} ms"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 11, 55])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "p.yaml"
        (Path(tmp) / "cosign.pub").write_bytes((I_COSIGN / "cosign.pub").read_bytes())
        policy.write_text(
            "apiVersion: provcheck/v1\nkind: Policy\nrules:\n"
            "  signatures: {required: true, keys: [cosign.pub]}\n"
        )
        options = verification_options(load_policy(policy))
        _case("i-cosign", f"oci-layout://{I_COSIGN / 'oci-layout'}:1", options, args.n, args.rounds)
    if importlib.util.find_spec("sigstore") is not None:
        options = verification_options(load_policy(KEYLESS / "policy.yaml"))
        _case("keyless", f"oci-layout://{KEYLESS / 'layout'}:1", options, args.n, args.rounds)


if __name__ == "__main__":
    main()
