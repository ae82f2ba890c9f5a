"""Policies: load and validate policy files, evaluate images against them.

Names are imported on first use: a submodule (such as :mod:`provcheck.policy.history`) can be
imported without the engine, the loader and their dependencies (cryptography, PyYAML).
"""

from __future__ import annotations

import typing

from provcheck._internal.lazy import lazy_exports

if typing.TYPE_CHECKING:
    from provcheck.policy.engine import evaluate
    from provcheck.policy.loader import lint_policy, load_policy, parse_policy
    from provcheck.policy.model import Policy
    from provcheck.policy.resolver import FileResolver, KeyResolver, MappingResolver
    from provcheck.policy.rules import RULES

_LAZY: typing.Final[dict[str, str]] = {
    "RULES": "provcheck.policy.rules",
    "FileResolver": "provcheck.policy.resolver",
    "KeyResolver": "provcheck.policy.resolver",
    "MappingResolver": "provcheck.policy.resolver",
    "Policy": "provcheck.policy.model",
    "evaluate": "provcheck.policy.engine",
    "lint_policy": "provcheck.policy.loader",
    "load_policy": "provcheck.policy.loader",
    "parse_policy": "provcheck.policy.loader",
}
"""Where each name lives (the imports above, for type checkers, say the same)."""

__all__ = [
    "RULES",
    "FileResolver",
    "KeyResolver",
    "MappingResolver",
    "Policy",
    "evaluate",
    "lint_policy",
    "load_policy",
    "parse_policy",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__, globals())
