"""The admission decision of a Kubernetes webhook (issue 11), without HTTP: :class:`Gate`
answers ``AdmissionReview`` bodies.

Names are imported on first use: importing the package does no work.
"""

from __future__ import annotations

import typing

from provcheck._internal.lazy import lazy_exports

if typing.TYPE_CHECKING:
    from provcheck.admission.gate import Gate, WarmResult, WarmSummary
    from provcheck.admission.observer import GateObserver, NullObserver
    from provcheck.admission.outcome import Decision, ImageStatus, ReviewOutcome
    from provcheck.admission.review import MAX_REVIEW_BYTES
    from provcheck.errors import AdmissionRequestError

_LAZY: typing.Final[dict[str, str]] = {
    "AdmissionRequestError": "provcheck.errors",
    "Decision": "provcheck.admission.outcome",
    "Gate": "provcheck.admission.gate",
    "GateObserver": "provcheck.admission.observer",
    "ImageStatus": "provcheck.admission.outcome",
    "MAX_REVIEW_BYTES": "provcheck.admission.review",
    "NullObserver": "provcheck.admission.observer",
    "ReviewOutcome": "provcheck.admission.outcome",
    "WarmResult": "provcheck.admission.gate",
    "WarmSummary": "provcheck.admission.gate",
}
"""Where each name lives (the imports above, for type checkers, say the same)."""

__all__ = [
    "MAX_REVIEW_BYTES",
    "AdmissionRequestError",
    "Decision",
    "Gate",
    "GateObserver",
    "ImageStatus",
    "NullObserver",
    "ReviewOutcome",
    "WarmResult",
    "WarmSummary",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__, globals())
