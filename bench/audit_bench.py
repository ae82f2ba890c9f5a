"""A fleet audit: ``provcheck audit`` next to a sequential ``buildx imagetools inspect`` loop.

Starts Debian's docker-registry on a free loopback port and fills it with a fleet: ``--images``
distinct BuildKit-shaped images made by tests/oci_builder.py (each with its own provenance and
SBOM statements; kinds in turn: pass, fail (an untrusted ``# syntax=`` frontend), missing (no
SBOM), unsigned (no attestation at all, a single manifest), broken (an attestation blob deleted),
tampered (an attestation blob rewritten in storage)), plus the real cases of fixtures/real under
``--real-copies`` repositories each, plus a few 404s. Then, on the same references:

- ``provcheck audit --jobs 16 --cache none`` (a subprocess), and with ``--cache DIR`` and
  ``--cache redis://…`` (a redis-server of its own on loopback; ``--no-redis``: none) cold then
  warm (tags, then the same images pinned by digest) when ``audit --help`` offers ``--cache``;
- the real ``buildx imagetools inspect --format '{{json .Provenance}}'`` run once per reference,
  one after another (what a shell loop over a fleet does), standalone as bench/inspect_bench.py;

each with its wall time, requests (registry access log) per reference, the peak RSS of the
process (``os.wait4``) and the registry's CPU seconds during the run (its share of the wall
time; it shares the 2 cores). Then a simulated fleet of ``--sizes`` references (default up to
10,000: tags of the fleet's images, one ``PUT`` each, 10% of them 404s) audited with
``--cache none`` to show how time, requests and memory grow with the fleet.

    .venv/bin/python bench/audit_bench.py [--images 200] [--real-copies 3] [--sizes 1000,10000]
                                          [--no-buildx] [--no-redis]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from many_bench import breakdown, cpu_seconds, registry_pid  # noqa: E402

from tests.oci_builder import (  # noqa: E402
    BuiltImage,
    ImageBuilder,
    provenance_statement,
    spdx_statement,
)
from tests.oci_push import push_layout, push_manifest  # noqa: E402
from tests.paths import REAL_CASES, REAL_DIR, recorded_tag  # noqa: E402
from tests.redis_server import redis_server  # noqa: E402
from tests.reference_tools import TOOLS_BIN  # noqa: E402
from tests.registry import RegistryServer  # noqa: E402

PROVCHECK: Final = str(ROOT / ".venv" / "bin" / "provcheck")
POLICY: Final = ROOT / "policies" / "baseline.yaml"
KINDS: Final = ("pass", "fail", "missing", "unsigned", "broken", "tampered")
EVIL_FRONTEND: Final = "docker.io/evil/frontend:1"


@dataclass(frozen=True, slots=True)
class Run:
    """One measured process (or loop of processes)."""

    wall_s: float
    requests: int
    registry_cpu_s: float
    peak_rss_mib: float
    cpu_s: float
    exit_codes: tuple[int, ...]
    kinds: dict[str, tuple[int, int]]
    by_repository: dict[str, int]


def _image(index: int, kind: str) -> BuiltImage:
    """Image ``index`` of the fleet, of ``kind`` (its own layer and statements)."""
    builder = ImageBuilder(f"svc{index:05d}")
    entry = builder.add_platform("linux/amd64")
    if kind == "unsigned":
        return builder.build_single()
    image = f"registry.example/fleet/svc{index:05d}:1"
    source = EVIL_FRONTEND if kind == "fail" else None
    statements = [
        provenance_statement(
            entry.digest, image=image, source=source, invocation_id=f"fleet{index:020d}"
        )
    ]
    if kind != "missing":
        statements.append(
            spdx_statement(entry.digest, [{"name": f"lib{index}", "version": "1.0"}], image=image)
        )
    attestation = builder.attest(entry, statements)
    built = builder.build()
    statement = next(d for d in attestation.blobs if b'"_type"' in attestation.blobs[d])
    if kind == "broken":
        return built.without_blob(statement)
    if kind == "tampered":
        data = bytearray(built.blobs[statement])
        data[10] ^= 0x01
        return built.tampered(statement, bytes(data))
    return built


def build_fleet(
    server: RegistryServer, images: int, real_copies: int
) -> tuple[list[str], list[str]]:
    """Push the fleet; return (tag references, the digest-pinned references that exist)."""
    tags: list[str] = []
    pinned: list[str] = []
    with httpx.Client(timeout=30.0) as client:
        for index in range(images):
            kind = KINDS[index % len(KINDS)]
            repository = f"team{index % 20:02d}/svc{index:05d}"
            digest = _image(index, kind).push(server, repository, "1", client=client)
            tags.append(f"{server.host}/{repository}:1")
            pinned.append(f"{server.host}/{repository}@{digest}")
        for copy in range(real_copies):
            for case in REAL_CASES:
                repository = f"real{copy}/{case}"
                push_layout(server.url, REAL_DIR / case / "oci-layout", repository, client=client)
                tags.append(f"{server.host}/{repository}:{recorded_tag(case)}")
    tags += [f"{server.host}/gone/svc{n:03d}:1" for n in range(3)]  # 404s
    return tags, pinned


def _wait(argv: Sequence[str], env: dict[str, str]) -> tuple[int, float, float]:
    """Run ``argv``; return its exit status, its own peak RSS in MiB and its CPU seconds."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(server: RegistryServer, commands: Sequence[Sequence[str]], home: Path) -> Run:
    """Run ``commands`` one after another, measured together."""
    env = {
        **os.environ,
        # Redis keeps verdicts only when they are sealed (a bench key, not a secret)
        "PROVCHECK_CACHE_HMAC_KEY": os.environ.get("PROVCHECK_CACHE_HMAC_KEY", "bench-" + "k" * 26),
        "HOME": str(home),
        "BUILDX_CONFIG": str(home / "buildx"),
        "DOCKER_CONFIG": str(home / "docker"),
    }
    pid = registry_pid(server)
    mark = server.mark()
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    codes: list[int] = []
    peak = used = 0.0
    for argv in commands:
        code, rss, cpu_used = _wait(argv, env)
        codes.append(code)
        peak = max(peak, rss)
        used += cpu_used
    wall = time.perf_counter() - start
    registry_cpu = cpu_seconds(pid) - cpu
    entries = server.requests_since(mark)
    by_repository: dict[str, int] = {}
    for entry in entries:
        for kind in ("/manifests/", "/blobs/", "/referrers/"):
            if kind in entry.path:
                repository = entry.path.removeprefix("/v2/").split(kind, 1)[0]
                by_repository[repository] = by_repository.get(repository, 0) + 1
    kinds = breakdown(entries)
    return Run(wall, len(entries), registry_cpu, peak, used, tuple(codes), kinds, by_repository)


def not_in_error(run: Run, output: Path) -> tuple[int, int]:
    """(references whose result is not ``error``, the requests made for their repositories):
    errors are never cached, so a warm run still fetches what it could not verify before."""
    repositories: set[str] = set()
    count = 0
    for line in output.read_text().splitlines():
        record = json.loads(line)
        if record["verdict"] != "error":
            count += 1
            name = str(record["subject"]["reference"]).split("/", 1)[1]
            repositories.add(name.split("@", 1)[0].rsplit(":", 1)[0])
    return count, sum(run.by_repository.get(r, 0) for r in repositories)


def audit_argv(refs_file: Path, output: Path, cache: str) -> list[str]:
    """``provcheck audit`` of the references in ``refs_file`` (``cache`` ``""``: no flag)."""
    argv = [PROVCHECK, "audit", "--policy", str(POLICY), "--from", str(refs_file)]
    argv += ["--jobs", "16", "--format", "jsonl", "--output", str(output), "-q"]
    return argv + (["--cache", cache] if cache else [])


def has_cache_option() -> bool:
    """Whether this provcheck's ``audit`` takes ``--cache``."""
    result = subprocess.run(
        [PROVCHECK, "audit", "--help"], capture_output=True, text=True, check=False
    )
    return "--cache" in result.stdout


def verdicts(output: Path) -> dict[str, int]:
    """``{verdict: count}`` of a JSONL audit."""
    counts: dict[str, int] = {}
    for line in output.read_text().splitlines():
        verdict = str(json.loads(line)["verdict"])
        counts[verdict] = counts.get(verdict, 0) + 1
    return dict(sorted(counts.items()))


def row(name: str, run: Run, refs: int) -> str:
    """One line of the table."""
    share = run.registry_cpu_s / run.wall_s if run.wall_s else 0.0
    return (
        f"{name:<34} {refs:>6} {run.wall_s:>8.2f} {run.requests / refs:>8.2f} "
        f"{run.peak_rss_mib:>8.1f} {run.cpu_s:>7.2f} {run.registry_cpu_s:>7.2f} {share:>6.0%}"
    )


HEADER: Final = (
    f"{'run':<34} {'refs':>6} {'wall s':>8} {'req/ref':>8} {'peak MiB':>8} "
    f"{'cpu s':>7} {'reg cpu':>7} {'share':>6}"
)


def simulated(server: RegistryServer, tags: Sequence[str], size: int) -> list[str]:
    """``size`` references: new tags (one ``PUT`` each) on the fleet's images, 1 in 10 a 404."""
    refs: list[str] = []
    sources = [ref for ref in tags if "/team" in ref]
    with httpx.Client(timeout=30.0) as client:
        bodies: dict[str, tuple[bytes, str]] = {}
        for n in range(size):
            if n % 10 == 9:
                refs.append(f"{server.host}/gone/sim{n:06d}:1")
                continue
            source = sources[n % len(sources)]
            repository = source.removeprefix(f"{server.host}/").rsplit(":", 1)[0]
            if repository not in bodies:
                response = client.get(
                    f"{server.url}/v2/{repository}/manifests/1",
                    headers={
                        "Accept": "application/vnd.oci.image.index.v1+json, "
                        "application/vnd.oci.image.manifest.v1+json"
                    },
                )
                response.raise_for_status()
                bodies[repository] = (response.content, response.headers["content-type"])
            body, media_type = bodies[repository]
            tag = f"s{n:06d}"
            push_manifest(server.url, repository, tag, body, media_type, client=client)
            refs.append(f"{server.host}/{repository}:{tag}")
    return refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--real-copies", type=int, default=3)
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--no-buildx", action="store_true")
    parser.add_argument("--no-redis", action="store_true", help="no Redis cache runs")
    args = parser.parse_args()
    buildx = TOOLS_BIN / "buildx"
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "registry") as server:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        start = time.perf_counter()
        tags, pinned = build_fleet(server, args.images, args.real_copies)
        print(f"fleet: {len(tags)} references pushed in {time.perf_counter() - start:.1f} s")
        refs_file = work / "fleet.txt"
        refs_file.write_text("".join(f"{ref}\n" for ref in tags))
        pinned_file = work / "pinned.txt"
        pinned_file.write_text("".join(f"{ref}\n" for ref in pinned))
        out = work / "out.jsonl"
        print(HEADER)
        print("-" * len(HEADER))
        audit = measure(
            server, [audit_argv(refs_file, out, "none" if has_cache_option() else "")], home
        )
        print(row("provcheck audit --jobs 16, no cache", audit, len(tags)), verdicts(out))
        if has_cache_option():
            with ExitStack() as stack:
                caches = [("disk", str(work / "cache"))]
                if not args.no_redis:
                    (work / "redis").mkdir()
                    url = stack.enter_context(redis_server(work / "redis"))
                    caches.append(("redis", url))
                for kind, cache in caches:
                    for name, file in (
                        ("cold", refs_file),
                        ("warm", refs_file),
                        ("warm pinned", pinned_file),
                    ):
                        if name == "warm pinned":
                            measure(server, [audit_argv(file, out, cache)], home)  # fill
                        run = measure(server, [audit_argv(file, out, cache)], home)
                        count = len(file.read_text().splitlines())
                        label = f"provcheck audit, {kind} cache {name}"
                        clean, requests = not_in_error(run, out)
                        print(row(label, run, count), verdicts(out))
                        print(f"  {requests} requests for the {clean} references not in error")
        if buildx.exists() and not args.no_buildx:
            template = "{{json .Provenance}}"
            loop = [[str(buildx), "imagetools", "inspect", "--format", template, r] for r in tags]
            theirs = measure(server, loop, home)
            failed = sum(code != 0 for code in theirs.exit_codes)
            print(row("buildx imagetools inspect loop", theirs, len(tags)), f"({failed} failed)")
            print(f"ratio buildx loop / audit: {theirs.wall_s / audit.wall_s:.1f}x")
            print("requests by kind, made (needed once each): audit | buildx loop")
            for kind in sorted(audit.kinds.keys() | theirs.kinds.keys()):
                ours = audit.kinds.get(kind, (0, 0))
                other = theirs.kinds.get(kind, (0, 0))
                print(f"  {kind:<40} {ours[0]:>6} ({ours[1]:>5}) | {other[0]:>6} ({other[1]:>5})")
        elif not args.no_buildx:
            print("(buildx not found: run scripts/reference-tools.sh to compare)")
        for size in (int(s) for s in args.sizes.split(",") if s):
            refs = simulated(server, tags, size)
            file = work / f"sim{size}.txt"
            file.write_text("".join(f"{ref}\n" for ref in refs))
            run = measure(
                server, [audit_argv(file, out, "none" if has_cache_option() else "")], home
            )
            print(row("simulated fleet, no cache", run, size), verdicts(out))
            for kind, (made, needed) in run.kinds.items():
                print(f"  {kind:<40} {made:>6} ({needed:>5})")


if __name__ == "__main__":
    main()
