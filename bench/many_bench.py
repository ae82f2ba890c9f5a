"""Many images through one client: N concurrent verifications on one shared ``RegistryClient``.

Starts Debian's docker-registry on a free loopback port, pushes the 11 real BuildKit images of
``fixtures/real/``, then for each N launches N ``verify_image_async(ref, baseline, client=shared)``
at once (``asyncio.gather``) in a fresh child process, and reports:

- made: requests in the registry's access log during the run, and ``client.requests_made``;
- needed: the requests the distinct content of the run needs (see ``needed_requests``), and, for
  the ``cycle`` mode, the sum of requests of each distinct image verified once with a fresh
  client (``single``);
- wall time of the ``gather``, CPU time of the child and of the registry process, peak RSS of
  the child (and its RSS before the run), and the tracemalloc peak of the same run repeated
  under tracemalloc in another child;
- then a table of made/needed per kind of request.

``--what-if`` adds runs of the largest N (cycle) that change no provcheck code: httpcore's
``import sniffio`` failing at once (``stub``), at most 16 verifications at a time (``lim16``),
both, and with ``--sniffio-dir`` sniffio really importable (``sniffio``).

Modes: ``cycle`` cycles N references over the 11 cases (N/11 verifications of each reference);
``alias`` gives each case N/11 repository names holding the same content, so N distinct
references map to 11 images.

    .venv/bin/python bench/many_bench.py [--sizes 11,55,220] [--modes cycle,alias]
    .venv/bin/python bench/many_bench.py --what-if [--sniffio-dir DIR] [--repeat 3] [--modes none]
    .venv/bin/python bench/many_bench.py --profile 220     # cProfile of one 220-run (cycle)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.paths import REAL_CASES  # noqa: E402
from tests.registry import AccessLogEntry, RegistryServer, load_real_cases  # noqa: E402

POLICY: Final = ROOT / "policies" / "baseline.yaml"
PYTHON: Final = str(ROOT / ".venv" / "bin" / "python")
# /v2/<name>/(manifests|blobs)/<digest>: immutable, the same bytes in every repository.
_BY_DIGEST: Final = re.compile(
    r"^/v2/.+/(?P<kind>manifests|blobs)/(?P<digest>sha256:[0-9a-f]{64})$"
)


def needed_requests(entries: Sequence[AccessLogEntry]) -> int:
    """The requests that the distinct content behind ``entries`` needs, at most one each.

    A manifest or blob fetched by digest is needed once per (method, digest), in whichever
    repository (its bytes are checked against the digest, so one copy serves every repository
    that links it). Anything else (a tag, the referrers API, a token scope) is needed once per
    (method, path): its answer may differ between repositories. Redirects do not occur here.
    """
    keys: set[tuple[str, str]] = set()
    for entry in entries:
        match = _BY_DIGEST.match(entry.path)
        key = f"{match['kind']}@{match['digest']}" if match else entry.path
        keys.add((entry.method, key))
    return len(keys)


def request_kind(entry: AccessLogEntry) -> str:
    """What a request asked for: a manifest or blob by digest, a tag, the referrers API, ..."""
    match = _BY_DIGEST.match(entry.path)
    if match:
        kind = f"{match['kind'][:-1]} by digest"
    elif "/referrers/" in entry.path:
        kind = "referrers API"
    elif "/manifests/" in entry.path:
        kind = "tag"
    elif entry.path.rstrip("/") == "/v2":
        kind = "ping /v2/"
    else:
        kind = "other"
    return f"{entry.method} {kind} ({entry.status})"


def breakdown(entries: Sequence[AccessLogEntry]) -> dict[str, tuple[int, int]]:
    """``{kind: (made, needed)}`` of ``entries`` (see :func:`request_kind`)."""
    groups: dict[str, list[AccessLogEntry]] = {}
    for entry in entries:
        groups.setdefault(request_kind(entry), []).append(entry)
    return {kind: (len(group), needed_requests(group)) for kind, group in sorted(groups.items())}


@dataclass(frozen=True, slots=True)
class ChildResult:
    """What one child process measured."""

    wall_s: float
    cpu_s: float
    client_requests: int
    rss_before_mib: float
    rss_peak_mib: float
    traced_peak_mib: float | None
    failures: int


def registry_pid(server: RegistryServer) -> int:
    """The pid of the registry process (the one whose command line names its config)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(server.config_path).encode() in cmdline.read_bytes():
                return int(cmdline.parent.name)
        except OSError:
            continue
    raise RuntimeError("registry process not found")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _verify_all(
    refs: Sequence[str], fresh: bool, limit: int | None
) -> tuple[float, int, int]:
    """Verify ``refs`` concurrently; return (wall s, requests made, failed verifications).

    ``fresh``: one client per reference, one after another (the ``single`` baseline).
    ``limit``: at most this many verifications at a time (a caller-side semaphore).
    """
    from provcheck import load_policy, verify_image_async
    from provcheck.source.registry import RegistryClient

    policy = load_policy(POLICY)
    start = time.perf_counter()
    if fresh:
        requests = 0
        failures = 0
        for ref in refs:
            async with RegistryClient() as own:
                try:
                    await verify_image_async(ref, policy, client=own)
                except Exception:
                    failures += 1
                requests += own.requests_made
        return time.perf_counter() - start, requests, failures
    gate = asyncio.Semaphore(limit or len(refs))

    async def one(ref: str, client: RegistryClient) -> object:
        async with gate:
            return await verify_image_async(ref, policy, client=client)

    async with RegistryClient() as client:
        results = await asyncio.gather(*(one(ref, client) for ref in refs), return_exceptions=True)
        wall = time.perf_counter() - start
        failures = sum(isinstance(result, BaseException) for result in results)
        return wall, client.requests_made, failures


@dataclass(frozen=True, slots=True)
class Variant:
    """How a child runs: the plain measurement, or a what-if that changes no provcheck code."""

    fresh: bool = False
    traced: bool = False
    profile: Path | None = None
    stub_sniffio: bool = False
    """``sys.modules["sniffio"] = None``: httpcore's ``import sniffio`` fails at once instead of
    searching sys.path again on every lock it creates (what declaring sniffio would save)."""
    limit: int | None = None
    sniffio_dir: Path | None = None
    """A directory holding sniffio (an unpacked wheel), put first on sys.path: the real fix."""

    def argv(self) -> list[str]:
        """The child's flags."""
        flags = ["--fresh"] * self.fresh + ["--traced"] * self.traced
        flags += ["--stub-sniffio"] * self.stub_sniffio
        flags += [] if self.profile is None else ["--profile-out", str(self.profile)]
        flags += [] if self.sniffio_dir is None else ["--sniffio-dir", str(self.sniffio_dir)]
        return flags + ([] if self.limit is None else ["--limit", str(self.limit)])


def child(refs: Sequence[str], variant: Variant) -> None:
    """Run in the child process: import, measure, print one JSON line."""
    if variant.stub_sniffio:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    if variant.sniffio_dir is not None:
        sys.path.insert(0, str(variant.sniffio_dir))
    import provcheck.api
    import provcheck.policy
    import provcheck.source.registry  # noqa: F401  (imports are not part of the run)

    before = _rss_mib()
    if variant.traced:
        tracemalloc.start()
    profiler = cProfile.Profile() if variant.profile is not None else None
    if profiler is not None:
        profiler.enable()
    cpu = time.process_time()
    wall, requests, failures = asyncio.run(_verify_all(refs, variant.fresh, variant.limit))
    cpu = time.process_time() - cpu
    if profiler is not None and variant.profile is not None:
        profiler.disable()
        profiler.dump_stats(str(variant.profile))
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if variant.traced else None
    result = ChildResult(wall, cpu, requests, before, _rss_mib(), peak, failures)
    print(json.dumps(asdict(result)))


def run_child(refs: Sequence[str], variant: Variant = Variant()) -> ChildResult:
    """Measure ``refs`` in a new process (clean RSS high-water mark, cold client)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(list(refs), handle)
    argv = [PYTHON, __file__, "--child", handle.name, *variant.argv()]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    Path(handle.name).unlink()
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.splitlines()[-1])
    return ChildResult(**data)


def add_aliases(server: RegistryServer, repositories: dict[str, str], copies: int) -> None:
    """Give each case ``copies`` more repository names (``alias<k>/<repository>``).

    Done in the registry's storage (a repository is a directory of links to shared blobs), which
    is what pushing the same layout again would produce, in a fraction of the time.
    """
    base = server.storage_dir / "docker/registry/v2/repositories"
    for repository in repositories.values():
        for k in range(copies):
            target = base / f"alias{k}" / repository
            if not target.exists():
                shutil.copytree(base / repository, target)


def references(
    mode: str, n: int, refs: dict[str, str], repositories: dict[str, str], host: str
) -> list[str]:
    """N references: cycling over the cases, or over distinct repository names of each case."""
    cases = list(REAL_CASES)
    if mode == "cycle":
        return [refs[cases[i % len(cases)]] for i in range(n)]
    out: list[str] = []
    for i in range(n):
        case = cases[i % len(cases)]
        k = i // len(cases)
        tag = refs[case].rsplit(":", 1)[1]
        repository = repositories[case] if k == 0 else f"alias{k - 1}/{repositories[case]}"
        out.append(f"{host}/{repository}:{tag}")
    return out


def row(
    mode: str,
    n: int,
    log: Sequence[AccessLogEntry],
    result: ChildResult,
    traced: float | None,
    registry_cpu: float,
) -> str:
    """One line of the table."""
    needed = needed_requests(log)
    return (
        f"{mode:<6} {n:>4} {len(log):>6} {result.client_requests:>6} {needed:>6} "
        f"{len(log) / needed:>9.2f} {result.wall_s:>7.2f} {result.cpu_s:>6.2f} "
        f"{registry_cpu:>7.2f} "
        f"{result.cpu_s * 1000 / n:>7.1f} {result.rss_before_mib:>8.0f} "
        f"{result.rss_peak_mib:>8.0f} {traced or 0:>10.1f} {result.failures:>4}"
    )


def what_if(
    server: RegistryServer, pid: int, refs: Sequence[str], repeat: int, sniffio_dir: Path | None
) -> None:
    """The plain run and the what-ifs, alternating, ``repeat`` rounds; then their medians."""
    variants = {
        "plain": Variant(),
        "stub": Variant(stub_sniffio=True),
        "lim16": Variant(limit=16),
        "both": Variant(stub_sniffio=True, limit=16),
    }
    if sniffio_dir is not None:
        variants["sniffio"] = Variant(sniffio_dir=sniffio_dir.resolve())
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, variant in variants.items():
            mark, registry_cpu = server.mark(), cpu_seconds(pid)
            result = run_child(refs, variant)
            registry_cpu = cpu_seconds(pid) - registry_cpu
            print(row(name, len(refs), server.requests_since(mark), result, None, registry_cpu))
            runs[name].append((result.wall_s, result.cpu_s, registry_cpu))
    print(f"\nwhat-if medians over {repeat} alternating rounds, N={len(refs)}:")
    print(f"{'variant':<8} {'wall s':>7} {'cpu s':>6} {'reg cpu':>7}")
    for name, values in runs.items():
        wall, cpu, registry = (statistics.median(column) for column in zip(*values, strict=True))
        print(f"{name:<8} {wall:>7.2f} {cpu:>6.2f} {registry:>7.2f}")


def print_profile(path: Path, top: int) -> None:
    """The ``top`` entries by cumulative time, and the sniffio import retries if any."""
    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(15)
    stats.print_callees("current_async_library")
    print(stream.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="11,55,220", help="comma-separated N")
    parser.add_argument("--modes", default="cycle,alias", help="cycle, alias or both")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile one N-run instead")
    parser.add_argument("--top", type=int, default=30, help="profile entries to print")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stub-sniffio", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of --what-if")
    parser.add_argument(
        "--sniffio-dir",
        type=Path,
        help="with --what-if: also run with sniffio importable from this directory (e.g. an "
        "unpacked sniffio wheel)",
    )
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also run the largest cycle N with sniffio's import failing fast and/or at most "
        "16 verifications at a time (no provcheck code changed)",
    )
    args = parser.parse_args()
    if args.child is not None:
        refs = json.loads(args.child.read_text())
        variant = Variant(
            fresh=args.fresh,
            traced=args.traced,
            profile=args.profile_out,
            stub_sniffio=args.stub_sniffio,
            limit=args.limit,
            sniffio_dir=args.sniffio_dir,
        )
        child(refs, variant)
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "registry") as server:
        real = load_real_cases(server)
        pid = registry_pid(server)
        copies = max(sizes) // len(REAL_CASES)
        if "alias" in modes:
            add_aliases(server, real.repositories, copies)

        def refs_for(mode: str, n: int) -> list[str]:
            return references(mode, n, real.refs, real.repositories, server.host)

        if args.what_if and args.modes == "none":
            what_if(server, pid, refs_for("cycle", max(sizes)), args.repeat, args.sniffio_dir)
            return
        if args.profile is not None:
            out = Path(tmp) / "profile.pstats"
            result = run_child(refs_for("cycle", args.profile), Variant(profile=out))
            print(f"{args.profile} verifications under cProfile: {result.wall_s:.2f} s")
            print_profile(out, args.top)
            return

        mark = server.mark()
        single = run_child([real.refs[case] for case in REAL_CASES], Variant(fresh=True))
        single_log = server.requests_since(mark)
        print(
            f"each of the 11 images once, fresh client each: {single.client_requests} requests "
            f"(access log {len(single_log)}, distinct {needed_requests(single_log)}), "
            f"{single.wall_s:.2f} s wall, {single.cpu_s:.2f} s CPU (client process)"
        )
        header = (
            f"{'mode':<6} {'N':>4} {'log':>6} {'client':>6} {'needed':>6} {'made/need':>9} "
            f"{'wall s':>7} {'cpu s':>6} {'reg cpu':>7} {'cpu ms/img':>7} {'RSS0 MiB':>8} "
            f"{'RSS MiB':>8} "
            f"{'traced MiB':>10} {'fail':>4}"
        )
        print(header)
        print("-" * len(header))
        details: dict[str, dict[str, tuple[int, int]]] = {}
        for mode in modes:
            for n in sizes:
                refs = refs_for(mode, n)
                mark, registry_cpu = server.mark(), cpu_seconds(pid)
                result = run_child(refs)
                registry_cpu = cpu_seconds(pid) - registry_cpu
                log = server.requests_since(mark)
                traced = run_child(refs, Variant(traced=True))
                print(row(mode, n, log, result, traced.traced_peak_mib, registry_cpu))
                details[f"{mode} N={n}"] = breakdown(log)
        if args.what_if:
            what_if(server, pid, refs_for("cycle", max(sizes)), args.repeat, args.sniffio_dir)
        print("\nmade/needed by kind of request (status in brackets):")
        kinds = sorted({kind for table in details.values() for kind in table})
        print(f"{'request':<30} " + " ".join(f"{run:>13}" for run in details))
        for kind in kinds:
            cells = ("{}/{}".format(*table.get(kind, (0, 0))) for table in details.values())
            print(f"{kind:<30} " + " ".join(f"{cell:>13}" for cell in cells))


if __name__ == "__main__":
    main()
