"""The CLI's reports are the same bytes whatever the hash seed: ``verify`` in every report format
and ``inspect`` in every format, on real BuildKit fixtures, each run in a fresh interpreter under
two ``PYTHONHASHSEED`` values (tests/hashseed.py)."""

from __future__ import annotations

import json

from tests.hashseed import run_under_seeds
from tests.paths import REAL_DIR, REPO_ROOT

CASES = ("b-multi-max", "c-secrets-max", "f-slsa-v1", "g-sbom-generator")
VERIFY_FORMATS = ("text", "json", "sarif", "junit")
INSPECT_FORMATS = ("text", "json", "provenance", "sbom")

# every CLI invocation; the child prints {"<argv>": [exit status, stdout]} as one JSON document
_INVOCATIONS = [
    [
        "verify",
        f"oci-layout://{REAL_DIR / case / 'oci-layout'}:1",
        "--policy",
        str(REPO_ROOT / "policies" / policy),
        "--format",
        fmt,
    ]
    for case in CASES
    for policy in ("strict.yaml", "baseline.yaml")
    for fmt in VERIFY_FORMATS
] + [
    ["inspect", f"oci-layout://{REAL_DIR / case / 'oci-layout'}:1", "--format", fmt]
    for case in CASES
    for fmt in INSPECT_FORMATS
]

_CHILD = f"""
import contextlib, io, json, sys
from provcheck.cli import main
results = {{}}
for argv in {_INVOCATIONS!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    results[" ".join(argv)] = [code, out.getvalue()]
sys.stdout.write(json.dumps(results))
"""


def test_cli_output_is_the_same_bytes_under_two_hash_seeds() -> None:
    first, second = run_under_seeds(_CHILD)
    assert first == second
    results = json.loads(first)
    assert len(results) == len(_INVOCATIONS)
    for argv, (code, out) in results.items():
        assert code in (0, 1), argv  # a verdict (pass or policy violation), not an error
        assert out.strip(), argv
    # the reports say something to compare: findings, in some order that could have varied
    sarifs = [json.loads(out) for argv, (_, out) in results.items() if argv.endswith(" sarif")]
    assert sum(len(doc["runs"][0]["results"]) for doc in sarifs) > 10
    assert {code for code, _ in results.values()} == {0, 1}
