"""Signed verification summaries (SLSA VSA v1): what ``verify --format vsa`` writes and attaches.

:mod:`.summary` builds the in-toto statement from a report and the attestations it was computed
from; :mod:`.attach` stores a signed one where cosign looks for attestations (the
``sha256-<hex>.att`` tag); :mod:`.run` is the verification that keeps both together. The ``vsa``
policy rule that checks such a summary is :mod:`provcheck.policy.rules.vsa`.
"""

from __future__ import annotations
