"""Issue 14.10: strings from attestations are data in every renderer, never terminal control."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from provcheck.policy import evaluate, parse_policy
from provcheck.report import ReportFormat, Status, render
from provcheck.report.escape import escape_surrogates, escape_text
from provcheck.views.text import render_inspect_text
from tests.unit.policy.realdata import load_case
from tests.unit.policy.test_engine import ACCEPTANCE
from tests.unit.policy.variants import with_predicates

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FAKE = "\nPASS       builder      linux/amd64    builder id is allowed\nverdict: PASS (5 pass)\n"
HOSTILE = "https://ci.example/" + FAKE + "\x1b[8m\x00\x7f\x85\u2028\u2029\u202e\u2067x"
POLICY = ACCEPTANCE + "  builder:\n    allow: ['https://github.com/acme/*']\n"


def _hostile(pred: dict[str, Any]) -> None:
    pred["builder"] = {"id": HOSTILE}
    pred["invocation"]["parameters"]["frontend"] = "dockerfile.v0" + FAKE + "\x1b]8;;x\x07"


def _report() -> Any:
    image = with_predicates(load_case("c-secrets-max"), _hostile)
    return evaluate(image, parse_policy(POLICY, "t.yaml"), now=NOW)


def _unsafe(text: str) -> list[str]:
    """Characters that act on a terminal, break a line or reorder it."""
    bidi = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
    return [
        c
        for c in text
        if (unicodedata.category(c) == "Cc" and c != "\n") or ord(c) in bidi or c in "\u2028\u2029"
    ]


def test_escape_text_is_visible_and_one_line() -> None:
    assert (
        escape_text("a\nb\r\tc\x00\x1b[31m\x7f\x85\x9b")
        == "a\\nb\\r\\tc\\x00\\x1b[31m\\x7f\\x85\\x9b"
    )
    assert escape_text("\u2028\u2029\u202a\u202e\u2066\u2069\u200e\u061c") == (
        "\\u2028\\u2029\\u202a\\u202e\\u2066\\u2069\\u200e\\u061c"
    )
    assert escape_text("\ud800\ufffe\uffff") == "\\ud800\\ufffe\\uffff"
    kept = "ghp_…(40 chars, redacted) café 日本 \\x1b é"
    assert escape_text(kept) == kept
    every = "".join(map(chr, range(0x110000)))
    escaped = escape_text(every)
    assert not _unsafe(escaped) and "\n" not in escaped
    escaped.encode("utf-8")  # no lone surrogate is left
    element = ET.Element("a", b=escaped)
    element.text = escaped
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode").encode("utf-8"))
    assert parsed.text == parsed.get("b") == escaped  # every character is valid XML 1.0


def test_escape_surrogates_keeps_json_meaning() -> None:
    text = json.dumps({"k": "a\ud800\\\udfff"}, ensure_ascii=False)
    fixed = escape_surrogates(text)
    fixed.encode("utf-8")
    assert json.loads(fixed) == {"k": "a\ud800\\\udfff"}


def test_text_report_has_one_line_per_result() -> None:
    report = _report()
    out = render(report, ReportFormat.TEXT)
    assert not _unsafe(out), _unsafe(out)
    starts = {s.value.upper() for s in Status}
    result_lines = [line for line in out.splitlines() if line[:10].strip() in starts]
    assert len(result_lines) == len(report.results) == 5
    assert [line for line in out.splitlines() if line.startswith("verdict:")] == [
        "verdict: FAIL (2 pass, 3 fail)"
    ]
    (builder,) = [line for line in result_lines if line.split()[1] == "builder"]
    assert "\\nPASS       builder" in builder and "\\x1b[8m" in builder


def test_junit_of_hostile_strings_is_valid_xml() -> None:
    out = render(_report(), ReportFormat.JUNIT)
    root = ET.fromstring(out.encode("utf-8"))
    failure = root.find("testsuite/testcase[@name='builder [linux/amd64]']/failure")
    assert failure is not None
    assert not _unsafe(failure.get("message", "")) and "\\x00" in failure.get("message", "")
    assert not _unsafe((failure.text or "").replace("\n", ""))


def test_sarif_messages_are_escaped_and_properties_keep_the_data() -> None:
    doc = json.loads(render(_report(), ReportFormat.SARIF))
    results = doc["runs"][0]["results"]
    assert all(not _unsafe(r["message"]["text"]) for r in results)
    (builder,) = [r for r in results if r["ruleId"] == "builder"]
    assert builder["properties"]["evidence"][0]["value"] == HOSTILE


def test_json_keeps_the_data() -> None:
    doc = json.loads(render(_report(), ReportFormat.JSON))
    (builder,) = [r for r in doc["results"] if r["rule"] == "builder"]
    assert builder["evidence"][0]["value"] == HOSTILE


def test_inspect_text_escapes_and_explains_labels_once() -> None:
    found = load_case("b-multi-max")
    out = render_inspect_text(found)
    assert out.count("[bound, unsigned]") == 3
    legend = [line for line in out.splitlines() if line.startswith("Labels:")]
    assert legend == [
        "Labels:     bound = its subject is this platform's manifest; "
        "unsigned = anyone who can push the tag could have written it"
    ]


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_every_format_encodes_as_utf8(fmt: ReportFormat) -> None:
    image = with_predicates(
        load_case("c-secrets-max"), lambda p: {**p, "builder": {"id": "x\ud800\udfff"}}
    )
    out = render(evaluate(image, parse_policy(POLICY, "t.yaml"), now=NOW), fmt)
    out.encode("utf-8")


def test_exactly_the_listed_characters_are_escaped() -> None:
    """Every code point, against the list the module documents (the check compiles a class of
    ranges; the list is the source of truth)."""
    unsafe = {
        *range(0x00, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x2028,
        0x2029,
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        *range(0xD800, 0xE000),
        0xFFFE,
        0xFFFF,
    }
    changed = {code for code in range(0x110000) if escape_text(chr(code)) != chr(code)}
    assert changed == unsafe
    text = "".join(chr(code) for code in range(0x110000))
    assert escape_text(text) == "".join(escape_text(chr(code)) for code in range(0x110000))
