"""The report: results per rule and platform, their evidence, and the verdict (plain data)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, assert_never

from provcheck.report.causes import Cause
from provcheck.report.redaction import redact, redact_assignment

SCHEMA_VERSION: Final = "provcheck.report/v1"


class Status(StrEnum):
    """The outcome of one rule for one platform (or the index)."""

    PASS = "pass"
    FAIL = "fail"
    INCOMPLETE = "incomplete"
    """The evidence needed was missing or stripped."""
    SKIP = "skip"
    """Not applicable."""
    ERROR = "error"
    """The rule could not be evaluated (e.g. a malformed predicate)."""

    @property
    def severity(self) -> int:
        """How bad the outcome is, from :data:`STATUS_ORDER`: 0 for the least severe."""
        return len(STATUS_ORDER) - 1 - STATUS_ORDER.index(self)


STATUS_ORDER: Final[tuple[Status, ...]] = (
    Status.ERROR,
    Status.FAIL,
    Status.INCOMPLETE,
    Status.PASS,
    Status.SKIP,
)
"""Every status, worst first: the one definition of their ordering (what a rule reports when it
combines several outcomes is the worst of them, and the verdict follows the worst result).
``error`` comes first: an answer that could not be given beats a failure (exit 3 beats 1)."""


class Verdict(StrEnum):
    """What an admission gate acts on."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


class OnIncomplete(StrEnum):
    """What an ``incomplete`` result does to the verdict."""

    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a result is based on.

    ``source`` names the document read: ``<attestation manifest digest>#layers/<n>`` for a
    statement, ``<image manifest digest>#config`` for an image config. ``pointer`` is an RFC
    6901 pointer into that document. ``value`` is never a secret in clear: build it with
    :meth:`secret` when it is one.
    """

    source: str
    pointer: str
    value: str | None = None
    remediation: str | None = None
    trust: str | None = None
    """``signed``, ``index-bound`` or ``unsigned`` for an attestation; ``None`` otherwise."""

    @classmethod
    def secret(
        cls, source: str, pointer: str, name: str | None, value: str, remediation: str | None
    ) -> Evidence:
        """Evidence for a secret: the value is redacted before it is stored."""
        shown = redact_assignment(name, value) if name is not None else redact(value)
        return cls(source, pointer, shown, remediation)


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One result of one rule; ``platform`` is ``None`` for a result about the whole image."""

    rule: str
    status: Status
    platform: str | None
    message: str
    evidence: tuple[Evidence, ...] = ()
    trust: str | None = None
    """The weakest trust level of the attestations the result is based on (``None``: none)."""
    cause: Cause | None = None
    """Why the evidence it needed is missing or degraded (``None``: not from missing evidence)."""

    @property
    def sort_key(self) -> tuple[str, str, str]:
        """(rule, platform, message): the deterministic report order."""
        return (self.rule, self.platform or "", self.message)


def compute_verdict(results: Iterable[RuleResult], on_incomplete: OnIncomplete) -> Verdict:
    """The verdict of the worst result by :data:`STATUS_ORDER`: ``error`` beats ``fail``;
    ``incomplete`` is a ``fail`` under ``on-incomplete: fail`` and a warning (``pass``)
    otherwise; ``pass`` and ``skip`` pass. No results at all is an ``error`` (fail closed)."""
    worst = max((r.status for r in results), key=lambda s: s.severity, default=None)
    match worst:
        case None | Status.ERROR:
            return Verdict.ERROR
        case Status.FAIL:
            return Verdict.FAIL
        case Status.INCOMPLETE:
            return Verdict.FAIL if on_incomplete is OnIncomplete.FAIL else Verdict.PASS
        case Status.PASS | Status.SKIP:
            return Verdict.PASS
        case _:
            assert_never(worst)


@dataclass(frozen=True, slots=True)
class Report:
    """The evaluation of one image against one policy. Results are sorted (rule, platform)."""

    policy: str
    reference: str
    digest: str
    results: tuple[RuleResult, ...]
    on_incomplete: OnIncomplete = OnIncomplete.FAIL
    problems: tuple[str, ...] = ()
    """Discovery problems (integrity, binding, …), shown to the reader."""
    error: str | None = None
    """Why there is no evaluation at all (an error report, see :meth:`from_error`)."""
    verdict: Verdict = field(init=False)

    @classmethod
    def from_error(cls, message: str, *, reference: str, policy: str) -> Report:
        """The report of a run that could not evaluate (unreachable registry, bad policy…):
        no results, verdict ``error``, ``message`` (one line, no secret) as the error."""
        return cls(policy=policy, reference=reference, digest="", results=(), error=message)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.results, key=lambda r: r.sort_key))
        object.__setattr__(self, "results", ordered)
        object.__setattr__(self, "verdict", compute_verdict(ordered, self.on_incomplete))

    def counts(self) -> dict[str, int]:
        """Number of results per status (every status present, in enum order)."""
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        return out
