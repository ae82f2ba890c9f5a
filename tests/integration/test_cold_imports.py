"""What a cold ``inspect --format provenance`` of a registry image imports, in a fresh process:
the modules it loads stay within an allow list, so the cold start cannot grow unnoticed
(bench/cold_start.py measures what each costs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import provcheck.cli
from tests.paths import REAL_DIR
from tests.registry import RealRegistry

CASE = "b-multi-max"

# Run in a fresh interpreter: the modules loaded by the CLI run, minus those of the start-up.
_PROBE: Final = """
import io, json, sys
from contextlib import redirect_stdout
before = set(sys.modules)
from provcheck.cli import main
with redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
loaded = sorted(set(sys.modules) - before)
print(json.dumps({"exit": code, "out": out.getvalue(), "loaded": loaded}))
"""

CLI_DIR: Final = Path(provcheck.cli.__file__).parent

PROVCHECK_MODULES: Final = frozenset(
    {
        "provcheck",
        "provcheck._internal",
        "provcheck._internal.bounded",
        "provcheck._internal.jsonload",
        "provcheck._internal.lazy",  # the lazy names of provcheck.report (code that was there)
        "provcheck._internal.secrets",  # secret build arguments are redacted in the view
        "provcheck._internal.timeout",
        "provcheck.api",
        "provcheck.attestation",
        "provcheck.attestation.binding",
        "provcheck.attestation.signatures",
        "provcheck.attestation.statement",
        "provcheck.cli",
        *(f"provcheck.cli.{path.stem}" for path in CLI_DIR.glob("[!_]*.py")),  # the parsers
        "provcheck.discovery",
        "provcheck.discovery.buildkit",
        "provcheck.discovery.limits",
        "provcheck.discovery.model",
        "provcheck.discovery.offload",
        "provcheck.discovery.options",
        "provcheck.discovery.select",
        "provcheck.errors",
        "provcheck.oci",
        "provcheck.oci.digest",
        "provcheck.oci.mediatypes",
        "provcheck.oci.model",
        "provcheck.oci.platform",
        "provcheck.oci.reference",
        "provcheck.predicates",
        "provcheck.predicates.slsa",
        "provcheck.predicates.slsa_layout",
        "provcheck.report",  # the package only (lazy names), for the two below
        "provcheck.report.escape",
        "provcheck.report.redaction",
        "provcheck.source",
        "provcheck.source.base",
        "provcheck.source.deadline",
        "provcheck.source.flight",
        "provcheck.source.limiter",
        "provcheck.source.registry",
        "provcheck.source.registry.auth",
        "provcheck.source.registry.client",
        "provcheck.source.registry.connection",
        "provcheck.source.registry.credentials",
        "provcheck.source.registry.options",
        "provcheck.source.registry.transport",
        "provcheck.source.store",
        "provcheck.views",
        "provcheck.views.buildx",
        "provcheck._internal.gojson",
    }
)
"""provcheck's modules on this path; a new one must be needed by it (add it here, with the
figure from bench/cold_start.py) or imported where it is used."""

THIRD_PARTY: Final = frozenset(
    {
        "anyio",
        "certifi",
        "h11",
        "httpcore",
        "httpx",
        "idna",
        "packageurl",
        "sniffio",
        "typing_extensions",
    }
)
"""Top-level third-party packages: the mandated HTTP stack (httpcore imports certifi at import
time and asks sniffio for the async library; anyio imports typing_extensions on Python < 3.13)
and packageurl (the platform qualifier of subject purls)."""

NEVER: Final = frozenset(
    {
        # the policy engine and what only it needs
        "provcheck.policy",
        "provcheck.policy.engine",
        "provcheck.policy.loader",
        "provcheck.report.model",
        "provcheck.sbom",
        "provcheck.attestation.keys",
        "cryptography",
        "yaml",
        "jsonschema",
        # standard library modules this path does not call
        "decimal",  # only for floats in a statement
        "concurrent.futures.thread",  # no worker thread without a config.json
    }
)


def test_inspect_provenance_imports_only_what_it_uses(
    real_registry: RealRegistry, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
    }
    argv = ["inspect", real_registry.ref(CASE), "--format", "provenance"]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    result = json.loads(done.stdout)
    expected = (REAL_DIR / CASE / "inspect.provenance.json").read_text()
    assert (result["exit"], result["out"].rstrip("\n")) == (0, expected.rstrip("\n"))
    loaded = set(result["loaded"])
    assert {m for m in loaded if m.split(".")[0] == "provcheck"} <= PROVCHECK_MODULES
    stdlib = set(sys.stdlib_module_names)
    top_level = {m.split(".")[0] for m in loaded} - stdlib - {"provcheck"}
    assert {m for m in top_level if not m.startswith("_")} <= THIRD_PARTY
    assert loaded & NEVER == set()
