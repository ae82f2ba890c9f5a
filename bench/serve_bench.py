"""A load run on a real ``provcheck serve``: warm reviews next to ``/healthz``, first-seen images,
and a soak of memory and file descriptors.

Starts Debian's docker-registry on a free loopback port with the real cases of fixtures/real,
and ``.venv/bin/provcheck serve`` on another, over TLS with a CA and certificate made here
(tests/serve_process.py), its cache a directory of its own. The reviews are AdmissionReviews of
Pods as the API server sends them (tests/admission_docs.py), each Pod with 1 to 5 images of the
real cases (tags), ``--pods`` distinct bodies sent in turn. After every body was reviewed once
(warm), on the same server:

- the load generator is chosen by measurement: ``/healthz`` for ``--probe`` seconds with 16
  connections from a Python client (httpx, asyncio) and from Debian's ``wrk`` (C, a Lua script
  for the POST bodies); the faster one runs the rest (on 2 cores, the client's CPU is taken from
  the server's);
- warm ``POST /validate`` at 16 connections for ``--seconds``: p50, p99, reviews/s;
- the floor: the same load on ``GET /healthz`` of the same server (its p99, and the ratio);
- one review at a time (1 connection): warm p50 and p99;
- first-seen images: ``--first-seen`` new BuildKit-shaped images (tests/oci_builder.py, their own
  statements, pushed now), each reviewed once, one at a time: the latency of a cold review;
- ``--soak SECONDS``: the warm load for that long, the server's RSS (``/proc/PID/status``) and
  open file descriptors (``/proc/PID/fd``) sampled every 10 s, and their slope (least squares).

    .venv/bin/python bench/serve_bench.py [--seconds 20] [--pods 60] [--first-seen 20] [--soak 600]

Goals (issue 11): >= 300 reviews/s warm at 16 connections with p99 <= 2x the floor's p99; one at
a time, warm p99 < 20 ms; memory and fds flat over 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit_bench import _image  # noqa: E402

from tests.admission_docs import pod_create  # noqa: E402
from tests.integration.test_verify_cli import POLICY  # noqa: E402
from tests.registry import RealRegistry, RegistryServer, load_real_cases  # noqa: E402
from tests.serve_process import ServeProcess, make_tls, serving  # noqa: E402

CONNECTIONS: Final = 16
SAMPLE_EVERY: Final = 10.0
LUA: Final = """
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%d,"seconds":%f,"p50_ms":%f,"p99_ms":%f,"max_ms":%f,' ..
    '"errors":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""
GET_LUA: Final = LUA.replace('wrk.method = "POST"', 'wrk.method = "GET"').replace(
    "return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])", "return wrk.format()"
)


@dataclass(frozen=True, slots=True)
class Load:
    """One measured load: requests answered, their rate, latency percentiles, errors."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self, name: str) -> str:
        return (
            f"{name:<44} {self.rate:>9.1f} {self.p50_ms:>8.2f} {self.p99_ms:>8.2f} "
            f"{self.max_ms:>8.1f} {self.errors:>6}"
        )


HEADER: Final = f"{'load':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


def wrk_load(
    url: str, path: str, bodies: Path | None, seconds: float, connections: int, work: Path
) -> Load:
    """``wrk`` on ``url + path``: POSTs of the lines of ``bodies`` in turn, or GETs."""
    script = work / ("post.lua" if bodies else "get.lua")
    script.write_text(LUA if bodies else GET_LUA)
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script)]
    env = {**os.environ, "BENCH_BODIES": str(bodies or os.devnull)}
    out = subprocess.run(
        [*argv, "--timeout", "10s", url + path], capture_output=True, text=True, env=env
    )
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")] or [
        f"RESULT {{}} {out.stdout} {out.stderr}"
    ]
    return Load(**json.loads(line.removeprefix("RESULT ")))


def python_load(
    server: ServeProcess, path: str, bodies: Sequence[bytes], seconds: float, connections: int
) -> Load:
    """The same load from a Python client: ``connections`` coroutines on one httpx client."""
    latencies: list[float] = []
    errors = 0

    async def run() -> float:
        nonlocal errors
        context = ssl.create_default_context(cafile=str(server.tls.ca))
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(
            base_url=server.url, verify=context, limits=limits, timeout=10
        ) as client:
            end = time.perf_counter() + seconds

            async def worker(offset: int) -> None:
                nonlocal errors
                n = offset
                while time.perf_counter() < end:
                    started = time.perf_counter()
                    if bodies:
                        headers = {"content-type": "application/json"}
                        body = bodies[n % len(bodies)]
                        answer = await client.post(path, content=body, headers=headers)
                    else:
                        answer = await client.get(path)
                    latencies.append(time.perf_counter() - started)
                    errors += answer.status_code != 200
                    n += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker(k) for k in range(connections)))
            return time.perf_counter() - started

    elapsed = asyncio.run(run())
    ms = [x * 1000 for x in latencies]
    return Load(
        len(ms), elapsed, _percentile(ms, 50), _percentile(ms, 99), max(ms, default=0), errors
    )


def bodies_of(real: RealRegistry, pods: int) -> list[bytes]:
    """``pods`` AdmissionReviews of Pods with 1 to 5 images of the real cases, in turn."""
    refs = list(real.refs.values())
    out: list[bytes] = []
    for i in range(pods):
        count = 1 + i % 5
        images = [refs[(i * 3 + k) % len(refs)] for k in range(count)]
        document = pod_create(images, name=f"bench-{i}")
        document["request"]["uid"] = f"bench-{i:04d}"
        out.append(json.dumps(document, separators=(",", ":")).encode())
    return out


def warm_up(server: ServeProcess, bodies: Sequence[bytes]) -> dict[str, int]:
    """Review every body once (filling the cache); ``{allowed/denied: count}``."""
    counts = {"allowed": 0, "denied": 0}
    with server.client() as client:
        for body in bodies:
            answer = client.post(
                "/validate", content=body, headers={"content-type": "application/json"}
            )
            answer.raise_for_status()
            response = answer.json()["response"]
            assert response["uid"] == json.loads(body)["request"]["uid"]
            counts["allowed" if response["allowed"] else "denied"] += 1
    return counts


def first_seen(server: ServeProcess, registry: RegistryServer, count: int) -> list[float]:
    """Push ``count`` new images and review a Pod of each once, one at a time (ms each)."""
    refs = []
    with httpx.Client(timeout=30.0) as pusher:
        for n in range(count):
            repository = f"fresh/svc{n:03d}"
            _image(90000 + n, "pass").push(registry, repository, "1", client=pusher)
            refs.append(f"{registry.host}/{repository}:1")
    latencies: list[float] = []
    with server.client() as client:
        for n, ref in enumerate(refs):
            document = pod_create([ref], name=f"fresh-{n}")
            document["request"]["uid"] = f"fresh-{n}"
            body = json.dumps(document).encode()
            started = time.perf_counter()
            answer = client.post(
                "/validate", content=body, headers={"content-type": "application/json"}
            )
            latencies.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
            assert answer.json()["response"]["uid"] == f"fresh-{n}"
    return latencies


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs``."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def soak(server: ServeProcess, bodies_file: Path, seconds: float, work: Path) -> None:
    """The warm load for ``seconds``, sampling the server's RSS and fds every 10 s."""
    pid = server.process.pid
    samples: list[tuple[float, int, int]] = []
    result: list[Load] = []
    load = threading.Thread(
        target=lambda: result.append(
            wrk_load(server.url, "/validate", bodies_file, seconds, CONNECTIONS, work)
        )
    )
    started = time.monotonic()
    load.start()

    def sample() -> None:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        samples.append((time.monotonic() - started, _rss_kib(pid), fds))
        at, rss, _ = samples[-1]
        print(f"  t={at:>5.0f} s  RSS {rss / 1024:>7.1f} MiB  fds {fds}", flush=True)

    while load.is_alive():
        sample()
        load.join(SAMPLE_EVERY)
    sample()
    (done,) = result
    print(done.row(f"soak: warm /validate, {CONNECTIONS} connections, {seconds:g} s"))
    steady = samples[1:] if len(samples) > 3 else samples  # the first sample: before the load
    xs = [t / 60 for t, _, _ in steady]
    rss = [r / 1024 for _, r, _ in steady]
    fds = [float(f) for _, _, f in steady]
    print(
        f"soak: RSS {rss[0]:.1f} -> {rss[-1]:.1f} MiB (max {max(rss):.1f}), slope "
        f"{_slope(xs, rss):+.3f} MiB/min; fds {fds[0]:.0f} -> {fds[-1]:.0f} (max {max(fds):.0f}), "
        f"slope {_slope(xs, fds):+.3f}/min; {len(samples)} samples"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="each load (default 20)")
    parser.add_argument("--probe", type=float, default=8.0, help="each generator probe")
    parser.add_argument("--pods", type=int, default=60)
    parser.add_argument("--first-seen", type=int, default=20)
    parser.add_argument("--soak", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--mutate", action="store_true", help="POST /mutate instead of /validate")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "registry") as registry:
        work = Path(tmp)
        real = load_real_cases(registry)
        policy = work / "policy.yaml"
        policy.write_text(POLICY)
        with serving(work, make_tls(work), policy) as server:
            server.wait_ready()
            bodies = bodies_of(real, args.pods)
            bodies_file = work / "bodies.jsonl"
            bodies_file.write_bytes(b"".join(b + b"\n" for b in bodies))
            started = time.perf_counter()
            counts = warm_up(server, bodies)
            print(
                f"warm-up: {len(bodies)} reviews in {time.perf_counter() - started:.1f} s {counts}"
            )
            print(f"load average before: {os.getloadavg()}")
            path = "/mutate" if args.mutate else "/validate"
            print(HEADER)
            print("-" * len(HEADER))
            py = python_load(server, "/healthz", [], args.probe, CONNECTIONS)
            print(py.row(f"generator probe: Python httpx, /healthz x{CONNECTIONS}"))
            wrk = wrk_load(server.url, "/healthz", None, args.probe, CONNECTIONS, work)
            print(wrk.row(f"generator probe: wrk, /healthz x{CONNECTIONS}"))
            use_wrk = wrk.rate >= py.rate

            def load(p: str, body: Path | None, connections: int) -> Load:
                if use_wrk:
                    return wrk_load(server.url, p, body, args.seconds, connections, work)
                posts = bodies if body else []
                return python_load(server, p, posts, args.seconds, connections)

            generator = "wrk" if use_wrk else "Python"
            mark = registry.mark()
            warm = load(path, bodies_file, CONNECTIONS)
            print(warm.row(f"warm {path}, {CONNECTIONS} conns ({generator})"))
            made = registry.requests_since(mark)
            heads = sum(e.method == "HEAD" for e in made)
            tags = len({r.rsplit(":", 1)[0] for r in real.refs.values()})
            print(
                f"  registry requests during it: {len(made)} ({heads} HEAD) for {tags} tags; "
                f"--tag-ttl 5 allows about {tags * (args.seconds / 5 + 1):.0f} HEADs"
            )
            floor = load("/healthz", None, CONNECTIONS)
            print(floor.row(f"floor: /healthz, {CONNECTIONS} conns ({generator})"))
            single = load(path, bodies_file, 1)
            print(single.row(f"warm {path}, one at a time ({generator})"))
            ratio = warm.p99_ms / floor.p99_ms if floor.p99_ms else float("inf")
            print(
                f"warm p99 / floor p99 = {ratio:.2f}x (goal <= 2x); warm {warm.rate:.0f} reviews/s "
                f"(goal >= 300); one at a time p99 {single.p99_ms:.2f} ms (goal < 20)"
            )
            cold = first_seen(server, registry, args.first_seen)
            if cold:
                print(
                    f"first-seen image, one at a time ({len(cold)}): p50 "
                    f"{statistics.median(cold):.0f} ms, max {max(cold):.0f} ms"
                )
            if args.soak:
                soak(server, bodies_file, args.soak, work)
            print(f"load average after: {os.getloadavg()}")
            assert server.process.poll() is None, "the server died"


if __name__ == "__main__":
    main()
