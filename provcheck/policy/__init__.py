"""Policies: load and validate policy files, evaluate images against them."""

from __future__ import annotations

from provcheck.policy.engine import evaluate
from provcheck.policy.loader import lint_policy, load_policy, parse_policy
from provcheck.policy.model import Policy
from provcheck.policy.resolver import FileResolver, KeyResolver, MappingResolver
from provcheck.policy.rules import RULES

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
