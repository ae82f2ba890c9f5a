"""Cost of reading an image config's build-arg history against a Dockerfile's ARG instructions.

Run: ``.venv/bin/python bench/history_bench.py [--sizes 2000,8000,32000]``.

Two generated shapes per size N (both within the config and provenance size caps):

* ``distinct``: a Dockerfile of N ``ARG V<i>`` lines and a history of N ``ARG V<i>=value<i>``
  records (the shape that was quadratic: every record re-sorted and tried every instruction);
* ``shared``: N instructions ``ARG A B<i>`` that share their first name, and N records
  ``ARG A=x B<i>=y``: every record has N candidates, so the fit budget
  (:data:`provcheck.policy.history.MAX_FIT_WORK`) stops the reading and says so.

Each run reads the whole history (``max_records`` raised to N), best of three, and prints the
records read, the candidate fits tried, whether the reading was cut short, and seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provcheck.policy import history
from provcheck.policy.history import DeclaredArgs, dockerfile_arg_names, history_records


def _case(shape: str, n: int) -> tuple[dict[str, Any], str]:
    if shape == "distinct":
        dockerfile = "FROM scratch\n" + "".join(f"ARG V{i}\n" for i in range(n))
        records = [f"ARG V{i}=value{i}" for i in range(n)]
    else:
        dockerfile = "FROM scratch\n" + "".join(f"ARG A B{i}\n" for i in range(n))
        records = [f"ARG A=x B{i}=y" for i in range(n)]
    entries = [{"created_by": r, "comment": "buildkit.dockerfile.v0"} for r in records]
    return {"config": {}, "history": entries}, dockerfile


def _run(shape: str, n: int) -> tuple[int, int, str | None, float, int, int]:
    config, dockerfile = _case(shape, n)
    tries = 0
    fit = history._split_at_names

    def counting(body: str, names: Any) -> Any:
        nonlocal tries
        tries += 1
        return fit(body, names)

    best = float("inf")
    reading = None
    for _ in range(3):
        tries = 0
        history._split_at_names = counting
        try:
            start = time.perf_counter()
            declared = DeclaredArgs(dockerfile_arg_names(dockerfile))
            reading = history_records(config, declared, max_records=n)
            best = min(best, time.perf_counter() - start)
        finally:
            history._split_at_names = fit
    assert reading is not None
    size = len(json.dumps(config)), len(dockerfile)
    return len(reading.records), tries, reading.unread, best, *size


def main() -> None:
    """Print one table row per shape and size."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,8000,32000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print("| shape | N | config KB | Dockerfile KB | records read | fits tried | cut short | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape in ("distinct", "shared"):
        for n in sizes:
            read, tries, unread, seconds, config_len, dockerfile_len = _run(shape, n)
            print(
                f"| {shape} | {n:,} | {config_len // 1024:,} | {dockerfile_len // 1024:,} | "
                f"{read:,} | {tries:,} | {'yes' if unread else 'no'} | {seconds:.3f} |"
            )


if __name__ == "__main__":
    main()
