"""Schema validation (``provcheck sbom --validate``) and conversion time against SBOM size.

Run: ``.venv/bin/python bench/sbom_validate_bench.py [--sizes 1000,10000,50000]
[--convert-sizes 1000,10000]``.

The documents come from the seeded builders of ``bench/sbom_bench.py`` (SPDX 2.3 shaped like
syft's, CycloneDX 1.6 with purls, hashes, licences, properties and dependencies). For each
format and size: :func:`provcheck.sbom.schema.validate_schema` with its validator built once
(the SPDX 2.3 schema vendored in provcheck; CycloneDX 1.6 from cyclonedx-python-lib with the
linear ``uniqueItems``), best of 3, and the time per 1,000 elements, which stays flat when the
growth is linear. Then :func:`provcheck.sbom.convert.convert_sbom` both ways (built and
serialised with cyclonedx-python-lib), best of 2, at ``--convert-sizes``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sbom_bench import cyclonedx_document, spdx_document  # the same seeded builders

from provcheck.sbom.convert import convert_sbom
from provcheck.sbom.cyclonedx import parse_cyclonedx
from provcheck.sbom.model import SbomFormat
from provcheck.sbom.schema import validate_schema
from provcheck.sbom.spdx import parse_spdx


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The best wall and the best CPU seconds of ``repeat`` runs (CPU time is what to compare
    on a shared machine: wall time also counts the waits for a core)."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--convert-sizes", default="1000,10000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    builders = {SbomFormat.SPDX: spdx_document, SbomFormat.CYCLONEDX: cyclonedx_document}
    for fmt, build in builders.items():  # build each validator once, outside the timings
        assert validate_schema(fmt, build(10)).valid
    print("| format | elements | validate wall (best of 3) | CPU | CPU per 1,000 | valid |")
    print("| --- | --- | --- | --- | --- | --- |")
    for fmt, build in builders.items():
        for size in sizes:
            document = build(size)
            wall, cpu = _best(lambda d=document, f=fmt: validate_schema(f, d), 3)  # type: ignore[misc]
            valid = validate_schema(fmt, document).valid
            per = cpu / size * 1000
            print(
                f"| {fmt.value} | {size:,} | {wall:.2f} s | {cpu:.2f} s | {per * 1000:.0f} ms "
                f"| {valid} |"
            )
    print()
    print("| conversion | elements | wall (best of 2) | CPU | CPU per 1,000 | dropped |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in [int(s) for s in args.convert_sizes.split(",")]:
        spdx = parse_spdx(spdx_document(size), "https://spdx.dev/Document")
        cdx = parse_cyclonedx(cyclonedx_document(size), "https://cyclonedx.org/bom")
        for name, sbom, target in (
            ("SPDX 2.3 -> CycloneDX 1.6", spdx, SbomFormat.CYCLONEDX),
            ("CycloneDX 1.6 -> SPDX 2.3", cdx, SbomFormat.SPDX),
        ):
            wall, cpu = _best(lambda s=sbom, t=target: convert_sbom(s, t), 2)  # type: ignore[misc]
            kinds = len(convert_sbom(sbom, target).dropped)
            per = cpu / size * 1000
            print(
                f"| {name} | {size:,} | {wall:.2f} s | {cpu:.2f} s | {per * 1000:.0f} ms "
                f"| {kinds} kinds |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
