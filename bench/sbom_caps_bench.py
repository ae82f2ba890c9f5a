"""What an SBOM conversion costs against its elements and relationships, to place the caps
:data:`provcheck.sbom.convert.MAX_CONVERTED_ELEMENTS` / ``MAX_CONVERTED_RELATIONSHIPS``.

Run: ``.venv/bin/python bench/sbom_caps_bench.py [--cases NAME,…]``. Each case runs in a
child process of its own (peak RSS is the child's ``ru_maxrss``): SPDX documents from the
seeded builder of ``bench/sbom_bench.py`` (one ``DESCRIBES`` per package) with ``extra``
distinct ``DEPENDS_ON`` relationships between its packages, converted to CycloneDX by the
converter itself (the caps not applied, to see the cost they bound), and the time
:func:`provcheck.sbom.convert.check_size` takes to refuse a document over the caps.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sbom_bench import spdx_document  # the same seeded builder

from provcheck.errors import ConversionLimitError
from provcheck.sbom.convert import check_size
from provcheck.sbom.spdx import parse_spdx

CASES = {  # name: (packages, extra DEPENDS_ON relationships)
    "real-20k": (20_000, 0),
    "real-20k-deps": (20_000, 40_000),
    "hostile-2k-50k": (2_000, 50_000),
    "hostile-2k-100k": (2_000, 100_000),
    "refuse-2k-600k": (2_000, 600_000),
}


def document(packages: int, extra: int) -> dict[str, Any]:
    doc = spdx_document(packages)
    ids = [p["SPDXID"] for p in doc["packages"]]
    doc["relationships"] += [
        {
            "spdxElementId": ids[n % packages],
            "relationshipType": "DEPENDS_ON",
            "relatedSpdxElement": ids[(n // packages + 1 + n) % packages],
        }
        for n in range(extra)
    ]
    return doc


def child(name: str) -> None:
    packages, extra = CASES[name]
    doc = document(packages, extra)
    size = len(json.dumps(doc))
    sbom = parse_spdx(doc, "https://spdx.dev/Document")
    start, cpu = time.perf_counter(), time.process_time()
    try:
        check_size(sbom)
        refused = False
    except ConversionLimitError:
        refused = True
    check = time.perf_counter() - start
    wall = cpu_s = 0.0
    if not name.startswith("refuse"):
        from provcheck.sbom.convert_cyclonedx import to_cyclonedx

        start, cpu = time.perf_counter(), time.process_time()
        to_cyclonedx(sbom)
        wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    relationships = len(doc["relationships"])
    print(
        f"| {name} | {packages:,} | {relationships:,} | {size / 2**20:.1f} MiB | "
        f"{check * 1000:.1f} ms, refused: {refused} | {wall:.1f} s | {cpu_s:.1f} s | "
        f"{rss:.0f} MiB |",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    print("| case | packages | relationships | JSON | check_size | convert wall | CPU | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.cases.split(","):
        subprocess.run([sys.executable, __file__, "--child", name], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
