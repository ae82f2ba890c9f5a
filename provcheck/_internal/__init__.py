"""Plumbing shared by several subpackages; not public API."""

from __future__ import annotations
