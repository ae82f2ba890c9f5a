from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from provcheck.policy import evaluate, load_policy
from provcheck.report import Status, Verdict
from tests.unit.policy.realdata import load_case

POLICIES = Path(__file__).resolve().parents[3] / "policies"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("case", "verdict"),
    [
        ("a-single-min", Verdict.FAIL),  # no SBOM (build-args incomplete is only a warning)
        ("b-multi-max", Verdict.FAIL),  # no SBOM: built without --sbom
        ("c-secrets-max", Verdict.FAIL),
        ("d-secret-mount", Verdict.FAIL),  # no SBOM
        ("e1-syntax-tag", Verdict.FAIL),  # localhost:5000/docker/dockerfile is not docker.io
        ("e3-syntax-evil", Verdict.FAIL),
        ("g-sbom-generator", Verdict.PASS),  # SPDX SBOM on both platforms
        ("h-no-attest", Verdict.FAIL),
        ("n1-default", Verdict.FAIL),  # no SBOM
    ],
)
def test_baseline(case: str, verdict: Verdict) -> None:
    assert (
        evaluate(load_case(case), load_policy(POLICIES / "baseline.yaml"), now=NOW).verdict
        is verdict
    )


@pytest.mark.parametrize("case", ["a-single-min", "b-multi-max", "d-secret-mount", "n1-default"])
def test_baseline_fails_images_built_without_sbom_on_the_sbom_rule_only(case: str) -> None:
    report = evaluate(load_case(case), load_policy(POLICIES / "baseline.yaml"), now=NOW)
    assert {r.rule for r in report.results if r.status is Status.FAIL} == {"sbom"}


def test_strict_rejects_every_real_case_for_the_documented_reasons() -> None:
    policy = load_policy(POLICIES / "strict.yaml")
    report = evaluate(load_case("f-slsa-v1"), policy, now=NOW)
    failing = {r.rule for r in report.results if r.status is Status.FAIL}
    assert failing == {"build-args", "base-images"}  # max mode, amd64+arm64 and frontend are fine
    report = evaluate(load_case("n1-default"), policy, now=NOW)
    assert {r.rule for r in report.results if r.status is Status.FAIL} == {"provenance"}  # min mode
    report = evaluate(load_case("b-multi-max"), policy, now=NOW)
    assert report.verdict is Verdict.PASS  # FROM scratch, built-in frontend, max mode, 3 platforms
