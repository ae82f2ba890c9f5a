"""``python -m provcheck``."""

from __future__ import annotations

from provcheck.cli import entrypoint

entrypoint()
