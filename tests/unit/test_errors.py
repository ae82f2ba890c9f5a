"""One exception hierarchy: every exception class under provcheck/ is defined in errors.py.

Classes are found by reading the source (:mod:`ast`), nested ones included, without importing
anything: a class is an exception when a base is a builtin exception, a class of
:mod:`provcheck.errors`, a name ending in ``Error`` or ``Exception``, or another class found so.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from provcheck import errors
from provcheck.errors import (
    AttestationError,
    EnvelopeError,
    SbomError,
    StatementBuildError,
    TlogError,
    VerificationError,
    VersionUnknownError,
)
from tests.paths import REPO_ROOT

PACKAGE: Final = REPO_ROOT / "provcheck"

ALLOWED: Final = {
    ("server/app.py", "_Rejected"): "the ASGI app's control flow, never raised out of the module",
    ("server/app.py", "_Disconnected"): "the ASGI app's control flow, never raised out of it",
    ("_internal/jsonload.py", "_Rejected"): "a ValueError from the decoder's hooks, caught there",
    ("_internal/files.py", "NotRegularFileError"): "an OSError, for callers' `except OSError`",
}
"""Exceptions kept outside errors.py on purpose, and why."""


def _exception_names() -> set[str]:
    builtin = {n for n, o in vars(builtins).items() if isinstance(o, type)}
    return {n for n in builtin if issubclass(getattr(builtins, n), BaseException)} | set(
        vars(errors)
    )


def _base_name(base: ast.expr) -> str:
    if isinstance(base, ast.Attribute):
        return base.attr
    return base.id if isinstance(base, ast.Name) else ""


def _classes(path: Path) -> Iterator[ast.ClassDef]:
    yield from (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef))


def exception_classes(paths: list[Path]) -> set[tuple[str, str]]:
    """``(path relative to provcheck/, class name)`` of every exception class in ``paths``."""
    known = _exception_names()
    classes = [(p.relative_to(PACKAGE).as_posix(), c) for p in paths for c in _classes(p)]
    found: set[tuple[str, str]] = set()
    while True:
        more = {
            (where, c.name)
            for where, c in classes
            if any(
                name in known or name.endswith(("Error", "Exception"))
                for name in map(_base_name, c.bases)
            )
        }
        if more == found:
            return found
        found = more
        known |= {name for _, name in found}


def test_every_exception_is_defined_in_errors_py() -> None:
    paths = [p for p in sorted(PACKAGE.rglob("*.py")) if p != PACKAGE / "errors.py"]
    assert exception_classes(paths) == set(ALLOWED)


def test_the_scan_finds_every_exception_of_errors_py() -> None:
    defined = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == errors.__name__
    }
    assert len(defined) > 20
    assert exception_classes([PACKAGE / "errors.py"]) == {("errors.py", n) for n in defined}


def test_moved_errors_keep_their_place_in_the_hierarchy() -> None:
    assert issubclass(EnvelopeError, AttestationError)
    assert issubclass(StatementBuildError, AttestationError)
    assert issubclass(TlogError, VerificationError)
    assert issubclass(VersionUnknownError, SbomError)
