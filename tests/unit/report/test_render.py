from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

import provcheck.report
from provcheck.policy import evaluate, parse_policy
from provcheck.report import Report, ReportFormat, redact, render
from tests.paths import REAL_CASES, real_case
from tests.unit.policy.realdata import load_case
from tests.unit.policy.test_engine import ACCEPTANCE

SECRETS = (
    "ghp_FAKEreflab0000000000000000000000000000",
    "npm_FAKEreflab000000000000000000000000000",
    "FAKEreflabAWSsecretKEY0000000000000000000",
    "ghp_FAKEslsaV1leak000000000000000000000000",
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _report(case: str) -> Report:
    return evaluate(load_case(case), parse_policy(ACCEPTANCE, "t.yaml"), now=NOW)


@pytest.mark.parametrize("case", ["c-secrets-max", "f-slsa-v1"])
@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_no_secret_is_ever_rendered(case: str, fmt: ReportFormat) -> None:
    out = render(_report(case), fmt)
    assert "redacted" in out
    for secret in SECRETS:
        assert secret not in out
        body = secret[4:] if secret[:4] in ("ghp_", "npm_") else secret
        for i in range(len(body) - 7):
            assert body[i : i + 8] not in out, (fmt, body[i : i + 8])


def test_redact() -> None:
    assert redact("ghp_" + "x" * 36) == "ghp_…(40 chars, redacted)"
    assert redact("FAKEreflabAWS") == "…(13 chars, redacted)"
    assert redact(redact("npm_abc")) == redact("npm_abc")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("hf_" + "FAKEhuggingface" * 2 + "abcd", "hf_…(37 chars, redacted)"),
        ("dop_v1_" + "0a" * 32, "dop_…(71 chars, redacted)"),
        ("squ_" + "0b" * 20, "squ_…(44 chars, redacted)"),
        ("shpat_" + "0c" * 16, "shpa…(38 chars, redacted)"),
        ("https://hf_FAKEhuggingface@huggingface.co/m", "…(43 chars, redacted)"),
        ("correct horse battery staple", "…(28 chars, redacted)"),
    ],
)
def test_redact_new_token_formats(value: str, shown: str) -> None:
    assert redact(value) == shown


_SCHEMA = json.loads(resources.files("provcheck.report").joinpath("report.schema.json").read_text())


@pytest.mark.parametrize("case", REAL_CASES)
def test_json_matches_schema(case: str) -> None:
    Draft202012Validator.check_schema(_SCHEMA)
    doc = json.loads(render(_report(case), ReportFormat.JSON))
    errors = list(
        Draft202012Validator(
            _SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).iter_errors(doc)
    )
    assert errors == []
    assert doc["schemaVersion"] == "provcheck.report/v1"
    assert doc["subject"]["reference"] == load_case(case).reference


def test_json_content_c_secrets() -> None:
    doc = json.loads(render(_report("c-secrets-max"), ReportFormat.JSON))
    assert doc["verdict"] == "fail"
    assert [(r["rule"], r["platform"], r["status"]) for r in doc["results"]] == [
        ("build-args", "linux/amd64", "fail"),
        ("frontend", "linux/amd64", "pass"),
        ("platforms", None, "pass"),
        ("provenance", "linux/amd64", "pass"),
    ]
    ev = doc["results"][0]["evidence"][0]
    assert ev["source"].endswith("#layers/0") and ev["pointer"].startswith("/predicate/")
    assert doc["summary"] == {"pass": 3, "fail": 1, "incomplete": 0, "skip": 0, "error": 0}


def test_sarif_shape() -> None:
    doc = json.loads(render(_report("e3-syntax-evil"), ReportFormat.SARIF))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {
        "build-args",
        "frontend",
        "platforms",
        "provenance",
    }
    (res,) = run["results"]
    assert res["ruleId"] == "frontend" and res["level"] == "error"
    assert res["message"]["text"].startswith("[linux/amd64]")
    loc = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert loc == f"oci-layout://{real_case('e3-syntax-evil') / 'oci-layout'}:1"
    pushed = dataclasses.replace(
        _report("e3-syntax-evil"), reference="localhost:5000/lab/e3-syntax-evil:1"
    )
    (res,) = json.loads(render(pushed, ReportFormat.SARIF))["runs"][0]["results"]
    loc = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert loc == "oci://localhost:5000/lab/e3-syntax-evil:1"
    assert res["properties"]["status"] == "fail" and res["properties"]["evidence"][0]["pointer"]


def test_junit_shape() -> None:
    out = render(_report("h-no-attest"), ReportFormat.JUNIT)
    root = ET.fromstring(out.split("\n", 1)[1])
    (suite,) = root
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests", "0")) == 4
    assert suite.get("failures") == "3" and suite.get("errors") == "0"
    names = [c.get("name") for c in cases]
    assert "provenance [linux/amd64]" in names and "platforms [image]" in names


def test_junit_escapes_xml() -> None:
    from provcheck.report import RuleResult, Status

    report = Report(
        "p<&>",
        "r\"'<x>",
        "sha256:" + "0" * 64,
        (RuleResult("x", Status.FAIL, None, '<bad & "msg">'),),
    )
    root = ET.fromstring(render(report, ReportFormat.JUNIT).split("\n", 1)[1])
    assert root.find("testsuite/testcase/failure").get("message") == '<bad & "msg">'  # type: ignore[union-attr]


def test_text_report() -> None:
    out = render(_report("a-single-min"), ReportFormat.TEXT)
    assert out.splitlines()[-1] == "verdict: FAIL (3 pass, 1 incomplete)"
    assert "INCOMPLETE build-args" in out


def test_exports() -> None:
    assert all(hasattr(provcheck.report, n) for n in provcheck.report.__all__)
    from provcheck import policy

    assert all(hasattr(policy, n) for n in policy.__all__)


def _baseline(case: str) -> Report:
    from pathlib import Path

    from provcheck.policy import load_policy

    policy = load_policy(Path(__file__).parents[3] / "policies" / "baseline.yaml")
    return evaluate(load_case(case), policy, now=NOW)


@pytest.mark.parametrize("case", ["b-multi-max", "c-secrets-max"])
def test_text_report_says_each_thing_once(case: str) -> None:
    report = _baseline(case)
    lines = render(report, ReportFormat.TEXT).splitlines()
    # one legend line, for the only trust level these images have
    assert [line for line in lines if line.startswith("trust:")] == [
        "trust: unsigned = anyone who can push the tag could have written it"
    ]
    # the result line names the trust level; the evidence lines do not repeat it
    assert not [line for line in lines if line.endswith("[unsigned]")]
    # each fix once, naming every result it applies to
    fixes = [line for line in lines if line.startswith("fix (")]
    assert (
        len(fixes)
        == len(set(fixes))
        == len({e.remediation for r in report.results for e in r.evidence if e.remediation})
    )
    platforms = [i.platform.key for i in load_case(case).images]
    (sbom,) = [line for line in fixes if line.startswith("fix (sbom: ")]
    assert sbom.startswith(f"fix (sbom: {', '.join(sorted(platforms))}): build with --sbom=true")
    # an attestation digest is named once per result, however many fields were read from it
    for line in lines:
        assert line.count("sha256:") <= 1, line
    evidence = [line.strip() for line in lines if line.startswith("           - ")]
    assert len(evidence) == len(set(evidence))


def test_junit_properties_come_before_the_test_cases() -> None:
    out = render(_report("b-multi-max"), ReportFormat.JUNIT)
    (suite,) = ET.fromstring(out.split("\n", 1)[1])
    tags = [child.tag for child in suite]
    assert tags[0] == "properties" and set(tags[1:]) == {"testcase"}
    assert {p.get("name"): p.get("value") for p in suite.iter("property")} == {
        "digest": str(load_case("b-multi-max").digest),
        "policy": "t",
        "verdict": "pass",
    }
