"""``--since PREVIOUS.jsonl``: what changed since an earlier audit, keyed by the reference
exactly as given: newly failing, fixed, digest changed, new, gone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from provcheck.report.model import Report, Verdict


class Change(StrEnum):
    """How an input changed since the previous audit (in the order they are listed)."""

    NEWLY_FAILING = "newly failing"
    FIXED = "fixed"
    DIGEST_CHANGED = "digest changed"
    NEW = "new"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Before:
    """What the previous audit said of a reference."""

    verdict: Verdict
    digest: str


@dataclass(frozen=True, slots=True)
class Changed:
    """One change: ``before`` is ``None`` for a new reference, ``after`` for a gone one."""

    change: Change
    reference: str
    before: Before | None
    after: Before | None


def read_previous(path: Path) -> dict[str, Before]:
    """The verdict and digest of every reference of a previous JSONL audit (the last one of
    copies); a line that is not a report is a :class:`~provcheck.errors.UsageError` naming
    ``file:line``."""
    from provcheck.audit.merge import read_records

    reports = (record.report for record in read_records(path))
    return {r.reference: Before(r.verdict, r.digest) for r in reports}


class Diff:
    """Fed the reports of this audit by :meth:`add`; :meth:`changes` lists what changed."""

    def __init__(self, previous: dict[str, Before], name: str) -> None:
        self.name = name
        self._previous = previous
        self._seen: set[str] = set()
        self._changes: list[Changed] = []

    def add(self, report: Report) -> None:
        if report.reference in self._seen:
            return
        self._seen.add(report.reference)
        now = Before(report.verdict, report.digest)
        before = self._previous.get(report.reference)
        change = _change(before, now)
        if change is not None:
            self._changes.append(Changed(change, report.reference, before, now))

    def changes(self) -> list[Changed]:
        """Every change, grouped in :class:`Change` order, each group in input order (gone
        ones in the previous audit's order)."""
        gone = [
            Changed(Change.GONE, ref, before, None)
            for ref, before in self._previous.items()
            if ref not in self._seen
        ]
        order = list(Change)
        return sorted([*self._changes, *gone], key=lambda c: order.index(c.change))

    def counts(self) -> Iterator[tuple[Change, int]]:
        """How many changes of each kind (every kind, in order)."""
        changes = self.changes()
        for change in Change:
            yield change, sum(1 for c in changes if c.change is change)


def _change(before: Before | None, now: Before) -> Change | None:
    if before is None:
        return Change.NEW
    if before.verdict is Verdict.PASS and now.verdict is not Verdict.PASS:
        return Change.NEWLY_FAILING
    if before.verdict is not Verdict.PASS and now.verdict is Verdict.PASS:
        return Change.FIXED
    if before.digest and now.digest and before.digest != now.digest:
        return Change.DIGEST_CHANGED
    return None
