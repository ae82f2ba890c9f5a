"""Trust levels and statuses are ordered in one place each (``TRUST_ORDER`` beside
:class:`TrustLevel`, ``STATUS_ORDER`` beside :class:`Status`), and every comparison uses it.

The last test reads the source: a second ordering (a tuple of levels or statuses, a dict from
them to numbers) anywhere else in ``provcheck/`` fails it, as the four copies did that it
replaced (policy/model.py, report/trust.py, policy/rules/frontend.py, policy/rules/sbom.py).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from provcheck.discovery.model import TRUST_ORDER, TrustLevel
from provcheck.policy.rules.frontend import _worst
from provcheck.report.model import (
    STATUS_ORDER,
    Evidence,
    OnIncomplete,
    RuleResult,
    Status,
    Verdict,
    compute_verdict,
)
from provcheck.report.trust import annotate_result
from tests.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "provcheck"
HOMES = {
    "TrustLevel": PACKAGE / "discovery" / "model.py",
    "Status": PACKAGE / "report" / "model.py",
}


def test_each_order_names_every_member_once() -> None:
    assert sorted(TRUST_ORDER) == sorted(TrustLevel) and len(TRUST_ORDER) == len(TrustLevel)
    assert sorted(STATUS_ORDER) == sorted(Status) and len(STATUS_ORDER) == len(Status)


def test_trust_ranks_weakest_first() -> None:
    assert [t.rank for t in TRUST_ORDER] == [0, 1, 2]
    assert TrustLevel.SIGNED.at_least(TrustLevel.INDEX_BOUND)
    assert TrustLevel.INDEX_BOUND.at_least(TrustLevel.INDEX_BOUND)
    assert not TrustLevel.UNSIGNED.at_least(TrustLevel.INDEX_BOUND)
    # not the order of the values: "index-bound" < "signed" < "unsigned" as text
    assert TrustLevel.weakest([TrustLevel.INDEX_BOUND, TrustLevel.UNSIGNED]) is TrustLevel.UNSIGNED
    assert TrustLevel.weakest([TrustLevel.SIGNED, TrustLevel.INDEX_BOUND]) is TrustLevel.INDEX_BOUND
    assert TrustLevel.weakest([]) is None


def test_status_severity_follows_the_order() -> None:
    assert [s.severity for s in STATUS_ORDER] == sorted((s.severity for s in Status), reverse=True)
    # an error (no answer could be given) is worse than a failure: exit 3 beats 1
    assert Status.ERROR.severity > Status.FAIL.severity > Status.INCOMPLETE.severity
    assert Status.INCOMPLETE.severity > Status.PASS.severity > Status.SKIP.severity


@pytest.mark.parametrize("on_incomplete", list(OnIncomplete))
def test_the_verdict_follows_the_worst_status(on_incomplete: OnIncomplete) -> None:
    incomplete = Verdict.FAIL if on_incomplete is OnIncomplete.FAIL else Verdict.PASS
    expected = {
        Status.ERROR: Verdict.ERROR,
        Status.FAIL: Verdict.FAIL,
        Status.INCOMPLETE: incomplete,
        Status.PASS: Verdict.PASS,
        Status.SKIP: Verdict.PASS,
    }
    for i, worst in enumerate(STATUS_ORDER):
        milder = [_result(s) for s in STATUS_ORDER[i + 1 :]]
        for results in ([_result(worst)], [*milder, _result(worst)], [_result(worst), *milder]):
            assert compute_verdict(results, on_incomplete) is expected[worst]
    assert compute_verdict([], on_incomplete) is Verdict.ERROR  # nothing evaluated: fail closed


def _result(status: Status, *trust: str) -> RuleResult:
    evidence = tuple(
        Evidence(f"sha256:{'0' * 64}#layers/{i}", "", None, None, t) for i, t in enumerate(trust)
    )
    return RuleResult("frontend", status, "linux/amd64", status.value, evidence)


def test_a_result_takes_the_weakest_trust_of_its_evidence() -> None:
    result = annotate_result(_result(Status.PASS, "signed", "unsigned", "index-bound"), {})
    assert result.trust == "unsigned"
    result = annotate_result(_result(Status.PASS, "signed", "index-bound"), {})
    assert result.trust == "index-bound"


@pytest.mark.parametrize("worst", [Status.FAIL, Status.ERROR, Status.INCOMPLETE, Status.PASS])
def test_the_frontend_rule_reports_its_worst_outcome(worst: Status) -> None:
    milder = [s for s in STATUS_ORDER if s.severity < worst.severity]
    results = [_result(s) for s in (*milder, worst, *milder)]
    assert _worst(results).status is worst
    first = _worst([_result(worst), dataclasses.replace(_result(worst), message="second")])
    assert first.message == worst.value  # ties keep the first


def _enum_members(nodes: list[ast.expr | None]) -> list[str]:
    """The enum class names of ``Enum.MEMBER`` (or ``Enum.MEMBER.value``) among ``nodes``."""
    names = []
    for node in nodes:
        if isinstance(node, ast.Attribute) and node.attr == "value":
            node = node.value
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names.append(node.value.id)
    return names


def _orderings(path: Path) -> list[str]:
    """Sequence literals of three or more members of one enum, and dicts from members to
    numbers, in ``path``: what a second definition of an ordering looks like."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Tuple, ast.List)):
            names = _enum_members(list(node.elts))
            found += [f"{path.name}:{node.lineno} {e}" for e in HOMES if names.count(e) >= 3]
        elif isinstance(node, ast.Dict):
            numbers = all(
                isinstance(v, ast.Constant) and isinstance(v.value, int) for v in node.values
            )
            names = _enum_members(list(node.keys))
            found += [f"{path.name}:{node.lineno} {e}" for e in HOMES if numbers and e in names]
    return found


def test_no_module_defines_another_ordering() -> None:
    elsewhere = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        for hit in _orderings(path)
        if HOMES[hit.rsplit(" ", 1)[1]] != path
    ]
    assert elsewhere == []
    assert _orderings(HOMES["TrustLevel"]) and _orderings(HOMES["Status"])  # the scan sees them
