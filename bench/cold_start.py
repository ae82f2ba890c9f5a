"""Cold start: ``provcheck inspect --format provenance`` next to buildx, and where the time goes.

Starts Debian's docker-registry on a free loopback port, pushes the real BuildKit images of
``fixtures/real/``, then:

1. pairs: a cold ``provcheck inspect REF --format provenance`` of ``b-multi-max`` and a cold
   ``buildx imagetools inspect --format '{{json .Provenance}}' REF``, alternating (the first of
   each pair alternates too), with the ratio of each pair and the medians;
2. floors: empty CPython starts (``-S``, ``-I``, plain), the imports the path needs (asyncio,
   httpx), the same requests made with bare httpx (``httpx floor``), ``provcheck --version``;
3. ``-X importtime`` of the inspect run: median self time per top-level package, the largest
   cumulative entries;
4. probes: TLS contexts created by one run and their cost, the CA bundles, asyncio loop
   creation, bytecode (``.pyc`` present, and the run with none), ``sniffio`` import retries;
5. sbom: what cyclonedx-python-lib costs the one path that needs it (``sbom --format
   cyclonedx`` of ``g-sbom-generator``), next to ``sbom`` (json) and ``sbom --validate``, and
   which of them import it at all.

    .venv/bin/python bench/cold_start.py [--runs 9] [--case b-multi-max] [--compare NAME=TREE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reference_tools import TOOLS_BIN  # noqa: E402
from tests.registry import RegistryServer, load_real_cases  # noqa: E402

PYTHON: Final = str(ROOT / ".venv" / "bin" / "python")
PROVCHECK: Final = str(ROOT / ".venv" / "bin" / "provcheck")
BUILDX: Final = TOOLS_BIN / "buildx"

# The same GETs that provcheck makes for ``inspect --format provenance``, with bare httpx:
# the floor of a Python client on the mandated HTTP stack. argv[2]: base URL, argv[3:]: paths.
_HTTPX_FLOOR: Final = """
import asyncio, ssl, sys, httpx
ACCEPT = ("application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json, "
          "application/vnd.docker.distribution.manifest.v2+json")
async def main():
    # argv[1] "certifi": httpx's default context; "none": a context that loads no CAs
    verify = True if sys.argv[1] == "certifi" else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    async with httpx.AsyncClient(base_url=sys.argv[2], verify=verify) as client:
        for path in sys.argv[3:]:
            (await client.get(path, headers={"Accept": ACCEPT})).raise_for_status()
asyncio.run(main())
"""

# The same GETs with httpx's sync client: no asyncio, no anyio (argv as above, no argv[1]).
_HTTPX_SYNC_FLOOR: Final = """
import sys, httpx
ACCEPT = ("application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json, "
          "application/vnd.docker.distribution.manifest.v2+json")
with httpx.Client(base_url=sys.argv[1]) as client:
    for path in sys.argv[2:]:
        client.get(path, headers={"Accept": ACCEPT}).raise_for_status()
"""

# One CLI run in-process, counting and timing the SSL contexts and CA loads it makes.
_TLS_PROBE: Final = """
import io, json, ssl, sys, time
from contextlib import redirect_stdout
seen = {"contexts": 0, "load_verify_locations": 0, "set_default_verify_paths": 0, "ca_ms": 0.0}
new = ssl.SSLContext.__new__
lvl = ssl.SSLContext.load_verify_locations
sdvp = ssl.SSLContext.set_default_verify_paths
def counted_new(cls, *a, **k):
    seen["contexts"] += 1
    return new(cls, *a, **k)
def timed(name, original):
    def wrapper(self, *a, **k):
        seen[name] += 1
        start = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            seen["ca_ms"] += (time.perf_counter() - start) * 1000
    return wrapper
ssl.SSLContext.__new__ = counted_new
ssl.SSLContext.load_verify_locations = timed("load_verify_locations", lvl)
ssl.SSLContext.set_default_verify_paths = timed("set_default_verify_paths", sdvp)
t0 = time.perf_counter()
from provcheck.cli import main
t1 = time.perf_counter()
with redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
seen["cli_import_ms"] = (t1 - t0) * 1000
seen["main_ms"] = (time.perf_counter() - t1) * 1000
t2 = time.perf_counter()
with redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
seen["main_again_ms"] = (time.perf_counter() - t2) * 1000
import os
files = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None)]
sources = [m for m in files if m.__file__.endswith(".py")]
def has_pyc(m):
    if getattr(m.__spec__, "origin", None) == "frozen":  # frozen into the interpreter
        return True
    cached = getattr(m, "__cached__", None)
    return bool(cached) and os.path.exists(cached)
stale = sorted({m.__name__ for m in sources if not has_pyc(m)})
frozen = [m for m in sources if getattr(m.__spec__, "origin", None) == "frozen"]
print(json.dumps({"exit": code, "modules": len(sys.modules), "from_source_files": len(sources),
                  "frozen": len(frozen),
                  "without_pyc": stale, **seen}))
"""

# Costs measured inside a fresh process (``python -I``, or ``-S`` where the key says so), after
# the setup imports that the path needs anyway; milliseconds.
_SITE_PACKAGES: Final = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
_PROBES: Final = {
    "import ssl": ("", "import ssl"),
    "ssl.create_default_context() (system CA store)": (
        "import ssl",
        "ssl.create_default_context()",
    ),
    "httpx.create_ssl_context() (certifi bundle)": ("import httpx", "httpx.create_ssl_context()"),
    "ssl.SSLContext(PROTOCOL_TLS_CLIENT) (no CAs)": (
        "import ssl",
        "ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)",
    ),
    "httpx.AsyncClient() (default verify=True)": ("import httpx", "httpx.AsyncClient()"),
    "httpx.AsyncClient(verify=<context without CAs>)": (
        "import httpx, ssl",
        "httpx.AsyncClient(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))",
    ),
    "import asyncio": ("", "import asyncio"),
    "asyncio.run(<no-op coroutine>) (loop creation)": (
        "import asyncio\nasync def noop(): pass",
        "asyncio.run(noop())",
    ),
    "asyncio.run(asyncio.to_thread(<no-op>)) (executor + thread; the credential lookup)": (
        "import asyncio\nasync def noop(): pass",
        "asyncio.run(asyncio.to_thread(lambda: None))",
    ),
    "import httpx (after asyncio)": ("import asyncio", "import httpx"),
    "import urllib.request (httpx._auth, after asyncio)": (
        "import asyncio",
        "import urllib.request",
    ),
    "import logging; logging.basicConfig() (after asyncio)": (
        "import asyncio",
        "import logging; logging.basicConfig()",
    ),
    "import decimal (provcheck._internal.gojson)": ("import asyncio", "import decimal"),
    "import locale (argparse's gettext, after argparse)": ("import argparse", "import locale"),
    "import shutil (+ bz2, lzma: argparse's HelpFormatter, after asyncio)": (
        "import argparse, asyncio",
        "import shutil",
    ),
    "provcheck.cli.main._parser() (every subcommand's parser, first call)": (
        "import provcheck.cli.main",
        "provcheck.cli.main._parser()",
    ),
    "import packageurl (provcheck.attestation.binding, after asyncio)": (
        "import asyncio, json",
        "import packageurl",
    ),
    "import provcheck.cli (after asyncio, httpx)": (
        "import asyncio, httpx",
        "import provcheck.cli.main",
    ),
    "import provcheck.api, provcheck.views.buildx, provcheck.source.registry (after cli)": (
        "import asyncio, httpx, provcheck.cli",
        "import provcheck.api, provcheck.views.buildx, provcheck.source.registry",
    ),
    "-S: import _distutils_hack; add_shim() (setuptools' distutils-precedence.pth)": (
        f"import sys; sys.path.append({str(_SITE_PACKAGES)!r})",
        "import _distutils_hack; _distutils_hack.add_shim()",
    ),
    "failed `import sniffio` (one retry, warm)": (
        "try:\n import sniffio\nexcept ImportError: pass",
        "try:\n import sniffio\nexcept ImportError: pass",
    ),
}
_PROBE_RUNNER: Final = """
import time
{setup}
start, cpu = time.perf_counter(), time.process_time()
{statement}
print((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000)
"""


class Timing(NamedTuple):
    """One process: wall and CPU (user + system) seconds, and what it printed."""

    wall: float
    cpu: float
    done: subprocess.CompletedProcess[str]


def run(argv: Sequence[str], env: Mapping[str, str], *, check: bool = True) -> Timing:
    """Run one process to its end (one at a time, so the children's rusage delta is its own)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=dict(env), timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing(wall, cpu, done)


def ms(values: Sequence[float]) -> str:
    """Median of seconds, in whole milliseconds."""
    return f"{statistics.median(values) * 1000:.0f}"


def pairs(ref: str, runs: int, env: Mapping[str, str]) -> None:
    """Alternate cold provcheck and buildx runs; print each pair and the medians."""
    ours_argv = [PROVCHECK, "inspect", ref, "--format", "provenance"]
    theirs_argv = [str(BUILDX), "imagetools", "inspect", "--format", "{{json .Provenance}}", ref]
    ours: list[Timing] = []
    theirs: list[Timing] = []
    print("## pairs: provcheck inspect --format provenance / buildx imagetools inspect (ms)\n")
    print("| pair | provcheck wall | buildx wall | ratio | provcheck CPU | buildx CPU |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i in range(runs):
        order = [(ours_argv, ours), (theirs_argv, theirs)]
        for argv, into in order if i % 2 == 0 else reversed(order):
            into.append(run(argv, env))
        a, b = ours[-1], theirs[-1]
        print(
            f"| {i + 1} | {a.wall * 1000:.0f} | {b.wall * 1000:.0f} | {a.wall / b.wall:.2f} | "
            f"{a.cpu * 1000:.0f} | {b.cpu * 1000:.0f} |"
        )
    ratios = [a.wall / b.wall for a, b in zip(ours, theirs, strict=True)]
    print(
        f"| median | {ms([t.wall for t in ours])} | {ms([t.wall for t in theirs])} | "
        f"{statistics.median(ratios):.2f} | {ms([t.cpu for t in ours])} | "
        f"{ms([t.cpu for t in theirs])} |\n"
    )


def compare(ref: str, runs: int, env: Mapping[str, str], trees: Mapping[str, str]) -> None:
    """Rounds of one cold inspect per provcheck tree (``PYTHONPATH=<tree>``; ``this``: the
    checkout this script belongs to) and one buildx run, in an order that rotates every round;
    each tree's median wall time and the median of its per-round ratio to buildx."""
    argv = [PROVCHECK, "inspect", ref, "--format", "provenance"]
    buildx = [str(BUILDX), "imagetools", "inspect", "--format", "{{json .Provenance}}", ref]
    commands: list[tuple[str, list[str], Mapping[str, str]]] = [
        (name, argv, env if tree == "this" else {**env, "PYTHONPATH": tree})
        for name, tree in trees.items()
    ]
    commands.append(("buildx", buildx, env))
    times: dict[str, list[Timing]] = defaultdict(list)
    for i in range(runs):
        shift = i % len(commands)
        for name, command, run_env in commands[shift:] + commands[:shift]:
            times[name].append(run(command, run_env))
    print(f"## compare: {runs} rounds of {', '.join(times)} (rotating order), ms\n")
    print("| tree | wall (median) | CPU (median) | ratio to buildx (median of rounds) |")
    print("| --- | --- | --- | --- |")
    theirs = times["buildx"]
    for name, values in times.items():
        ratios = [a.wall / b.wall for a, b in zip(values, theirs, strict=True)]
        print(
            f"| {name} | {ms([t.wall for t in values])} | {ms([t.cpu for t in values])} | "
            f"{statistics.median(ratios):.2f} |"
        )
    print()


def floors(
    server: RegistryServer, ref: str, paths: Sequence[str], runs: int, env: Mapping[str, str]
) -> None:
    """Median wall and CPU time of empty starts, the needed imports, bare httpx, provcheck."""
    inspect = [PROVCHECK, "inspect", ref, "--format", "provenance"]
    empty = tempfile.mkdtemp(prefix="no-pyc-")
    commands: dict[str, tuple[list[str], Mapping[str, str]]] = {
        "python -S -c pass (no site)": ([PYTHON, "-S", "-c", "pass"], env),
        "python -I -c pass (venv site, .pth files)": ([PYTHON, "-I", "-c", "pass"], env),
        "python -I -c 'import asyncio'": ([PYTHON, "-I", "-c", "import asyncio"], env),
        "python -I -c 'import httpx'": ([PYTHON, "-I", "-c", "import httpx"], env),
        "python -I -c 'import asyncio, httpx'": (
            [PYTHON, "-I", "-c", "import asyncio, httpx"],
            env,
        ),
        f"httpx floor: the same {len(paths)} GETs with bare httpx (certifi loaded)": (
            [PYTHON, "-I", "-c", _HTTPX_FLOOR, "certifi", server.url, *paths],
            env,
        ),
        f"httpx floor: the same {len(paths)} GETs, SSL context without CAs": (
            [PYTHON, "-I", "-c", _HTTPX_FLOOR, "none", server.url, *paths],
            env,
        ),
        f"sync httpx floor: the same {len(paths)} GETs, httpx.Client (no asyncio)": (
            [PYTHON, "-I", "-c", _HTTPX_SYNC_FLOOR, server.url, *paths],
            env,
        ),
        "provcheck --version (CLI imports only)": ([PROVCHECK, "--version"], env),
        "provcheck inspect --format provenance": (inspect, env),
        "the same, no bytecode (-X pycache_prefix=<empty dir>)": (
            [PYTHON, "-X", f"pycache_prefix={empty}", *inspect],
            {**env, "PYTHONDONTWRITEBYTECODE": "1"},
        ),
    }
    times: dict[str, list[Timing]] = defaultdict(list)
    for _ in range(runs):  # round-robin, so load drifts hit every row alike
        for name, (argv, run_env) in commands.items():
            times[name].append(run(argv, run_env))
    print(f"## floors (median of {runs}, ms)\n")
    print("| command | wall | CPU |\n| --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {ms([t.wall for t in values])} | {ms([t.cpu for t in values])} |")
    print()


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """``(module, depth, self us, cumulative us)`` of each ``-X importtime`` line."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((name.strip(), depth, int(self_us), int(cumulative_us)))
    return rows


def importtime(ref: str, runs: int, env: Mapping[str, str], top: int) -> None:
    """Median ``-X importtime`` figures of the inspect run."""
    argv = [PYTHON, "-X", "importtime", PROVCHECK, "inspect", ref, "--format", "provenance"]
    by_package: dict[str, list[int]] = defaultdict(list)
    cumulative: dict[str, list[int]] = defaultdict(list)
    totals: list[int] = []
    sniffio: list[int] = []
    for _ in range(runs):
        done = run(argv, env).done
        rows = parse_importtime(done.stderr)
        totals.append(sum(row[2] for row in rows))
        sniffio.append(sum(1 for row in rows if row[0] == "sniffio"))
        package_self: dict[str, int] = defaultdict(int)
        first: dict[str, int] = {}
        for name, _depth, self_us, cumulative_us in rows:
            package_self[name.split(".")[0]] += self_us
            first.setdefault(name, cumulative_us)
        for name, value in first.items():
            cumulative[name].append(value)
        for package, value in package_self.items():
            by_package[package].append(value)
    print(f"## -X importtime of the inspect run (median of {runs})\n")
    print(
        f"total import time (sum of self): {statistics.median(totals) / 1000:.0f} ms; "
        f"`import sniffio` attempted {statistics.median(sniffio):.0f} times (more than once: "
        "it is not installed, and httpcore tries again at every lock)\n"
    )
    print("| top-level package | self ms (all its modules) |\n| --- | --- |")
    ranked = sorted(by_package.items(), key=lambda kv: -statistics.median(kv[1]))
    for package, values in ranked[:top]:
        print(f"| {package} | {statistics.median(values) / 1000:.1f} |")
    print("\n| module | cumulative ms |\n| --- | --- |")
    ranked = sorted(cumulative.items(), key=lambda kv: -statistics.median(kv[1]))
    for name, values in ranked[:top]:
        print(f"| {name} | {statistics.median(values) / 1000:.1f} |")
    print()


def probes(ref: str, runs: int, env: Mapping[str, str]) -> None:
    """TLS contexts of one run; in-process costs of TLS, asyncio and imports; bytecode."""
    print("## probes\n")
    done = run([PYTHON, "-c", _TLS_PROBE, "inspect", ref, "--format", "provenance"], env).done
    seen = json.loads(done.stdout.splitlines()[-1])
    print(
        f"one inspect of a plain-HTTP registry: {seen['contexts']} SSL context(s) created, "
        f"{seen['load_verify_locations']} load_verify_locations, "
        f"{seen['set_default_verify_paths']} set_default_verify_paths, "
        f"{seen['ca_ms']:.1f} ms loading CAs; in that process `import provcheck.cli` took "
        f"{seen['cli_import_ms']:.0f} ms, main() {seen['main_ms']:.0f} ms (its lazy imports "
        f"included), main() again in that process {seen['main_again_ms']:.0f} ms (the CA counts "
        "cover both runs)\n"
    )
    print("| in a fresh process | wall ms | CPU ms |\n| --- | --- | --- |")
    for name, (setup, statement) in _PROBES.items():
        code = _PROBE_RUNNER.format(setup=setup, statement=statement)
        walls: list[float] = []
        cpus: list[float] = []
        for _ in range(runs):
            mode = "-S" if name.startswith("-S:") else "-I"
            wall, cpu = run([PYTHON, mode, "-c", code], env).done.stdout.split()[-2:]
            walls.append(float(wall))
            cpus.append(float(cpu))
        print(f"| {name} | {statistics.median(walls):.2f} | {statistics.median(cpus):.2f} |")
    print()
    flag = run([PYTHON, "-c", "import sys; print(sys.dont_write_bytecode)"], env).done
    print(
        f"bytecode: the run imports {seen['modules']} modules, {seen['from_source_files']} with "
        f"a .py file ({seen['frozen']} of them frozen into the interpreter); without a .pyc: "
        f"{seen['without_pyc'] or 'none'} "
        f"(sys.dont_write_bytecode: {flag.stdout.strip()})\n"
    )


_CONVERSION_IMPORTS: Final = (
    "import cyclonedx.model.bom, cyclonedx.model.component, cyclonedx.model.dependency, "
    "cyclonedx.output.json, cyclonedx.contrib.license.factories, packageurl"
)
_LOADS_CYCLONEDX: Final = """
import io, sys
from contextlib import redirect_stdout
from provcheck.cli import main
with redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
print(sorted({m.split(".")[0] for m in sys.modules} & {"cyclonedx", "jsonschema", "packageurl"}))
"""


def sbom(ref: str, runs: int, env: Mapping[str, str]) -> None:
    """Cold ``sbom`` runs of an image with SPDX SBOMs, and the imports of the conversion."""
    sbom_argv = [PROVCHECK, "sbom", ref]
    convert = [*sbom_argv, "--format", "cyclonedx", "--platform", "linux/amd64"]
    commands = {
        "python -I -c '<the conversion's cyclonedx imports>'": [
            PYTHON,
            "-I",
            "-c",
            _CONVERSION_IMPORTS,
        ],
        "provcheck sbom REF (json)": sbom_argv,
        "provcheck sbom REF --format cyclonedx --platform linux/amd64": convert,
        "provcheck sbom REF --validate": [*sbom_argv, "--validate"],
    }
    times: dict[str, list[Timing]] = defaultdict(list)
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(run(argv, env))
    print(f"## sbom: cyclonedx-python-lib on the conversion path only (median of {runs}, ms)\n")
    print("| command | wall | CPU | imports |\n| --- | --- | --- | --- |")
    for name, values in times.items():
        argv = commands[name]
        loads = ""
        if argv[0] == PROVCHECK:
            probe = run([PYTHON, "-c", _LOADS_CYCLONEDX, *argv[1:]], env).done
            loads = probe.stdout.strip().splitlines()[-1]
        walls, cpus = [t.wall for t in values], [t.cpu for t in values]
        print(f"| {name} | {ms(walls)} | {ms(cpus)} | {loads} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--case", default="b-multi-max")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sections", default="pairs,floors,importtime,probes,sbom")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=TREE",
        help="also run the compare section: provcheck from this source tree (e.g. a "
        "`git worktree` of an older commit, with its .pyc compiled), next to this checkout "
        "and buildx (repeatable)",
    )
    args = parser.parse_args()
    if not BUILDX.exists():
        sys.exit("buildx not found: run scripts/reference-tools.sh")
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "registry") as server:
        refs = load_real_cases(server).refs
        ref = refs[args.case]
        home = Path(tmp) / "home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "BUILDX_CONFIG": str(home / "buildx"),
            "DOCKER_CONFIG": str(home / "docker"),
        }
        mark = server.mark()
        done = run([PROVCHECK, "inspect", ref, "--format", "provenance"], env).done
        paths = [entry.path for entry in server.requests_since(mark)]
        print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        print(f"{args.case}: provcheck makes {len(paths)} requests (exit {done.returncode})\n")
        sections = args.sections.split(",")
        if "pairs" in sections:
            pairs(ref, args.runs, env)
        if args.compare:
            trees = dict(item.split("=", 1) for item in args.compare)
            compare(ref, args.runs, env, {**trees, "this": "this"})
        if "floors" in sections:
            floors(server, ref, paths, args.runs, env)
        if "importtime" in sections:
            importtime(ref, args.runs, env, args.top)
        if "probes" in sections:
            probes(ref, args.runs, env)
        if "sbom" in sections:
            sbom(refs["g-sbom-generator"], args.runs, env)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
