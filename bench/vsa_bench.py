"""The admission fast path: checking a signed VSA next to verifying the image in full.

Starts Debian's docker-registry on a free loopback port, loads the real BuildKit images of
``fixtures/real/``, and for each case given verifies it against ``policies/baseline.yaml`` with
``--format vsa --sign-key KEY --attach`` (the CI step; a case that fails the baseline gets a
FAILED summary, which the gate refuses with exit 1: the cost is the same). Then, for the same
pinned image, it times one cold process of each gate: the full verification (baseline) and the
check of the summary (a policy with only the ``vsa`` rule), counting the registry requests each
made in the access log; and one in-process run of each with a shared ``RegistryClient`` warmed on
another image (a webhook's path), counting its requests. Goal (issue 12): the VSA check is
several times cheaper.

    .venv/bin/python bench/vsa_bench.py [--cases b-multi-max g-sbom-generator]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.registry import RegistryServer, load_real_cases  # noqa: E402

PROVCHECK = str(ROOT / ".venv" / "bin" / "provcheck")
BASELINE = ROOT / "policies" / "baseline.yaml"


def cold(server: RegistryServer, argv: Sequence[str], home: Path) -> tuple[float, int, int]:
    """Wall seconds, registry requests and exit code of one cold process."""
    mark = server.mark()
    start = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, check=False, env={**os.environ, "HOME": str(home)}
    )
    wall = time.perf_counter() - start
    return wall, len(server.requests_since(mark)), done.returncode


async def warm(ref: str, other: str, policies: Sequence[Path]) -> list[tuple[float, int]]:
    """(seconds, requests) of one verification of ``ref`` per policy, each with a client warmed
    on ``other`` (connections and imports, none of ``ref``'s content)."""
    from provcheck.api import verify_image_async
    from provcheck.policy import load_policy
    from provcheck.source.registry import RegistryClient

    out = []
    loaded = [load_policy(p) for p in policies]
    for policy in loaded:
        async with RegistryClient() as client:
            await verify_image_async(other, policy, client=client)
            before = client.requests_made
            start = time.perf_counter()
            await verify_image_async(ref, policy, client=client)
            out.append((time.perf_counter() - start, client.requests_made - before))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["b-multi-max", "g-sbom-generator"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "registry") as server:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        key = ec.generate_private_key(ec.SECP256R1())
        (work / "ci.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (work / "ci.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        gate = work / "gate.yaml"
        gate.write_text(
            "apiVersion: provcheck/v1\nkind: Policy\nname: gate\nrules:\n"
            "  vsa:\n    keys: [ci.pub]\n    max-age: 24h\n"
        )
        real = load_real_cases(server)
        print(
            "| case | exit full / VSA | full verify (cold) | requests | VSA check (cold) | "
            "requests | ratio wall / requests | full (warm) | requests | VSA (warm) | requests |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for case in args.cases:
            ref = f"{real.ref(case).rsplit(':', 1)[0]}@{real.root_digest(case)}"
            ci = [PROVCHECK, "verify", ref, "--policy", str(BASELINE), "--format", "vsa"]
            ci += ["--sign-key", str(work / "ci.pem"), "--attach"]
            attached = subprocess.run(ci, capture_output=True, text=True, check=False)
            if "attached to" not in attached.stderr:
                raise SystemExit(f"{case}: attaching failed: {attached.stderr[-500:]}")
            full = cold(server, [PROVCHECK, "verify", ref, "--policy", str(BASELINE)], home)
            fast = cold(server, [PROVCHECK, "verify", ref, "--policy", str(gate)], home)
            (full_w, full_r), (fast_w, fast_r) = asyncio.run(
                warm(ref, real.ref("h-no-attest"), [BASELINE, gate])
            )
            print(
                f"| {case} | {full[2]} / {fast[2]} | {full[0] * 1000:.0f} ms | {full[1]} | "
                f"{fast[0] * 1000:.0f} ms | {fast[1]} | "
                f"{full[0] / fast[0]:.1f}x / {full[1] / fast[1]:.1f}x | "
                f"{full_w * 1000:.1f} ms | {full_r} | {fast_w * 1000:.1f} ms | {fast_r} |"
            )


if __name__ == "__main__":
    main()
