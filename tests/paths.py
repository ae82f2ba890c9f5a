"""Paths of the committed fixtures; usable from fixtures, helpers and plain scripts alike."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

REPO_ROOT: Final = Path(__file__).parent.parent.resolve()
FIXTURES_DIR: Final = REPO_ROOT / "fixtures"
REAL_DIR: Final = FIXTURES_DIR / "real"
REAL_CASES: Final = (
    "a-single-min",
    "b-multi-max",
    "c-secrets-max",
    "d-secret-mount",
    "e1-syntax-tag",
    "e3-syntax-evil",
    "f-slsa-v1",
    "g-sbom-generator",
    "h-no-attest",
    "i-cosign",
    "n1-default",
)


def real_case(name: str) -> Path:
    """The folder of one real BuildKit case, e.g. ``real_case("a-single-min")``.

    Raises:
        FileNotFoundError: no such case.
    """
    path = REAL_DIR / name
    if not (path / "oci-layout" / "index.json").is_file():
        raise FileNotFoundError(f"no real fixture case {name!r} in {REAL_DIR}")
    return path


def recorded_repository(name: str) -> str:
    """The repository a real case was pushed to (``repo`` in its descriptor-tree.json)."""
    tree = json.loads((real_case(name) / "descriptor-tree.json").read_text())
    repo = tree["repo"]
    assert isinstance(repo, str)
    return repo


def recorded_tag(name: str) -> str:
    """The tag a real case was recorded under (``reference`` in its descriptor-tree.json)."""
    tree = json.loads((real_case(name) / "descriptor-tree.json").read_text())
    reference = tree["reference"]
    assert isinstance(reference, str)
    return reference


def load_script(path: Path, name: str) -> ModuleType:
    """Import a Python file that is not in a package (a fixture generator, the Rekor simulator)
    once, under ``name``: every later call returns the same module."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
