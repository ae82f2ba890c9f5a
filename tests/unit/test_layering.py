"""Import layering: the pipeline's packages never import its front ends.

Every import of a module is read from its source with :mod:`ast` (those inside functions and
``if TYPE_CHECKING:`` included), so a lazy import is caught as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from tests.paths import REPO_ROOT

PACKAGE: Final = REPO_ROOT / "provcheck"

PIPELINE: Final = ("oci", "source", "discovery", "attestation", "sbom", "policy", "report")
"""The layers from the reference to the report (predicates and _internal are below them)."""
FRONT_ENDS: Final = ("explain", "admission", "server", "audit", "cli", "vsa", "evidence")
"""What is built on the pipeline: none of its packages may import one of these."""


def imported(source: str, package: str) -> Iterator[str]:
    """Every module (and ``module.name``) that ``source``, a module of ``package``, imports;
    relative imports resolved."""
    parts = package.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _imports(path: Path) -> Iterator[str]:
    package = ".".join(path.relative_to(REPO_ROOT).parts[:-1])
    return imported(path.read_text(), package)


def _front_end(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[0] == "provcheck" and parts[1] in FRONT_ENDS


def test_the_pipeline_imports_no_front_end() -> None:
    wrong = sorted(
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for layer in PIPELINE
        for path in (PACKAGE / layer).rglob("*.py")
        for module in _imports(path)
        if _front_end(module)
    )
    assert wrong == []


def test_imports_are_read_from_every_form() -> None:
    source = """
import provcheck.cli
from provcheck.explain import causes
from . import absence
from ..vsa.summary import vsa_statement
if TYPE_CHECKING:
    from provcheck.server import app
def later() -> None:
    import provcheck.audit
"""
    found = set(imported(source, "provcheck.policy"))
    assert {
        "provcheck.cli",
        "provcheck.explain.causes",
        "provcheck.policy.absence",
        "provcheck.vsa.summary",
        "provcheck.server.app",
        "provcheck.audit",
    } <= found
    assert sum(map(_front_end, found)) == 8  # all but provcheck.policy[.absence]
