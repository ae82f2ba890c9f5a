"""Reports as data both ways: ``report_from_dict(report_to_dict(r)) == r`` and the re-rendered
JSON is byte-identical, for every real case under both shipped policies, for error reports, and
for generated reports; documents of another version or that contradict themselves are refused
with a typed error."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provcheck.api import verify_image
from provcheck.errors import DocumentError, SchemaVersionError
from provcheck.policy import evaluate, load_policy
from provcheck.policy.model import Policy
from provcheck.report import Evidence, OnIncomplete, Report, RuleResult, Status
from provcheck.report.json import parse_report, render_json, report_from_dict, report_to_dict
from provcheck.report.model import SCHEMA_VERSION
from tests.oci_builder import ImageBuilder, provenance_statement
from tests.paths import REAL_CASES, REPO_ROOT
from tests.unit.policy.realdata import load_case_with_stores
from tests.unit.report.test_render import SECRETS

NOW: Final = datetime(2026, 12, 1, tzinfo=UTC)  # strict has max-age: the verdict depends on it
POLICIES: Final = ("baseline", "strict")


def _policy(name: str) -> Policy:
    return load_policy(REPO_ROOT / "policies" / f"{name}.yaml")


def _assert_round_trips(report: Report) -> Report:
    text = render_json(report)
    again = parse_report(text)
    assert again == report
    assert render_json(again) == text  # byte-identical
    assert report_from_dict(report_to_dict(report)) == report
    line = render_json(report, compact=True)
    assert line.count("\n") == 1 and line.endswith("\n")  # one JSONL record
    assert parse_report(line) == report and render_json(parse_report(line)) == text
    return again


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", REAL_CASES)
def test_every_real_report_round_trips(case: str, policy: str) -> None:
    report = evaluate(load_case_with_stores(case), _policy(policy), now=NOW)
    assert report.results
    again = _assert_round_trips(report)
    assert again.verdict is report.verdict
    assert [r.evidence for r in again.results] == [r.evidence for r in report.results]


def test_a_replayed_report_still_holds_no_secret() -> None:
    report = evaluate(load_case_with_stores("c-secrets-max"), _policy("baseline"), now=NOW)
    text = render_json(_assert_round_trips(report))
    assert "redacted" in text
    assert not any(secret in text for secret in SECRETS)


@pytest.mark.parametrize(
    "message",
    [
        "registry 127.0.0.1:5000 unreachable",
        "naïve\x1b[31m \u202e\x00 token …(40 chars, redacted)",
        "lone surrogate \udc80 and \ud800",
    ],
)
def test_error_reports_round_trip(message: str) -> None:
    report = Report.from_error(message, reference="r.test/app:1", policy="strict")
    again = _assert_round_trips(report)
    assert again.error == message and again.digest == "" and not again.results


def test_a_pointer_holding_a_newline_round_trips(tmp_path: Path) -> None:
    """A hostile attestation's build-arg name may hold a newline, and the evidence pointer names
    it: the schema's ``^(/.*)?$`` refused the report's own rendering (``.`` stops at a newline)."""
    builder = ImageBuilder("newline")
    entry = builder.add_platform("linux/amd64")
    token = "ghp_FAKE" + "0" * 36
    statement = provenance_statement(entry.digest, build_args={"API\nTOKEN": token})
    builder.attest(entry, [statement])
    layout = builder.build().write_layout(tmp_path / "layout")
    report = verify_image(f"oci-layout://{layout}:1", _policy("baseline"), now=NOW)
    (pointer,) = (e.pointer for r in report.results for e in r.evidence if "\n" in e.pointer)
    assert pointer == "/predicate/invocation/parameters/args/build-arg:API\nTOKEN"
    assert token not in render_json(_assert_round_trips(report))


def _doc(**changes: Any) -> dict[str, Any]:
    report = evaluate(load_case_with_stores("b-multi-max"), _policy("baseline"), now=NOW)
    doc = report_to_dict(report)
    doc.update(changes)
    return doc


@pytest.mark.parametrize("version", ["provcheck.report/v2", "provcheck.report/v0", 1, None])
def test_another_schema_version_is_a_typed_error(version: object) -> None:
    doc = _doc(schemaVersion=version)
    with pytest.raises(SchemaVersionError) as caught:
        report_from_dict(doc)
    assert caught.value.expected == SCHEMA_VERSION
    assert caught.value.found == (version if isinstance(version, str) else None)
    del doc["schemaVersion"]
    with pytest.raises(SchemaVersionError):
        report_from_dict(doc)


def test_a_document_off_the_schema_is_refused_with_its_path() -> None:
    doc = _doc()
    doc["results"][0]["status"] = "maybe"
    with pytest.raises(DocumentError, match=r"at /results/0/status \(enum\)"):
        report_from_dict(doc)
    with pytest.raises(DocumentError, match="at / "):
        report_from_dict(_doc(extra="field"))


def test_a_document_that_contradicts_itself_is_refused() -> None:
    doc = _doc()
    assert doc["verdict"] == "fail"
    with pytest.raises(DocumentError, match="verdict 'pass' is not 'fail'"):
        report_from_dict({**doc, "verdict": "pass"})
    summary = {**doc["summary"], "fail": doc["summary"]["fail"] + 1}
    with pytest.raises(DocumentError, match="summary"):
        report_from_dict({**doc, "summary": summary})
    failing = copy.deepcopy(doc)
    for result in failing["results"]:
        if result["status"] == "fail":
            result["status"] = "pass"  # the verdict and summary no longer follow
    with pytest.raises(DocumentError):
        report_from_dict(failing)


def test_reading_leaves_the_document_alone() -> None:
    doc = _doc()
    before = copy.deepcopy(doc)
    report_from_dict(doc)
    assert doc == before


@pytest.mark.parametrize("text", [b"", b"[]", b"{", b'{"a": NaN}', b"\xff"])
def test_text_that_is_not_a_report_document_is_a_document_error(text: bytes) -> None:
    with pytest.raises(DocumentError):
        parse_report(text)


# -- generated reports -------------------------------------------------------------------------

_PAIR: Final = re.compile("[\ud800-\udbff][\udc00-\udfff]")
# Any code point, controls and lone surrogates included. A high surrogate directly followed by
# a low one has no JSON spelling apart from the astral character (``"\ud83d\ude00"`` is 😀), so
# such a string cannot round-trip through any JSON; text read from JSON never holds one.
json_text = st.text(st.characters(blacklist_categories=())).filter(lambda s: not _PAIR.search(s))
_text = json_text
_trust = st.sampled_from([None, "signed", "index-bound", "unsigned"])
_pointer = st.one_of(st.just(""), _text.map(lambda s: "/" + s))
_digest = st.one_of(
    st.just(""),
    st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}"),
)
_evidence = st.one_of(
    st.builds(Evidence, _text, _pointer, st.none() | _text, st.none() | _text, _trust),
    st.builds(Evidence.secret, _text, _pointer, st.none() | _text, _text, st.none() | _text),
)
_result = st.builds(
    RuleResult,
    rule=_text,
    status=st.sampled_from(Status),
    platform=st.none() | _text,
    message=_text,
    evidence=st.lists(_evidence, max_size=3).map(tuple),
    trust=_trust,
)
_report = st.builds(
    Report,
    policy=_text,
    reference=_text,
    digest=_digest,
    results=st.lists(_result, max_size=6).map(tuple),
    on_incomplete=st.sampled_from(OnIncomplete),
    problems=st.lists(_text, max_size=3).map(tuple),
    error=st.none() | _text,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_report)
def test_generated_reports_round_trip(report: Report) -> None:
    text = render_json(report)
    text.encode("utf-8")  # always valid UTF-8
    again = parse_report(text)
    assert again == report
    assert render_json(again) == text
    assert json.loads(text)["schemaVersion"] == SCHEMA_VERSION
