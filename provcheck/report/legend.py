"""What the trust labels in the text views mean, said once per view."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from provcheck.discovery.model import TrustLevel

TRUST_MEANING: Final = {
    TrustLevel.SIGNED: "a signature by a trusted key or identity was verified over it",
    TrustLevel.INDEX_BOUND: "unsigned, but reached from a digest you pinned or from signed content",
    TrustLevel.UNSIGNED: "anyone who can push the tag could have written it",
}


def trust_legend(labels: Iterable[str]) -> str | None:
    """``label = meaning; …`` for the trust levels among ``labels``, strongest first, each once
    (``None`` when there is none)."""
    present = set(labels)
    parts = [f"{t.value} = {TRUST_MEANING[t]}" for t in TrustLevel if t.value in present]
    return "; ".join(parts) or None
