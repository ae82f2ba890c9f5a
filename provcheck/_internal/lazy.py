"""Packages that import their public names on first use (PEP 562), so that importing one
submodule does not load what the package's other names need."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, where: Mapping[str, str], public: Iterable[str], namespace: Mapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``where`` is imported
    from the module it maps to when first asked for; ``__dir__`` lists ``public`` too. The
    ``__getattr__`` raises :class:`AttributeError` for any other name."""
    names = frozenset(public)

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
