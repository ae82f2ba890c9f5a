"""One committed negative fixture per rejection branch of statement parsing
(fixtures/statements/, made from a real BuildKit statement by its generate.py)."""

from __future__ import annotations

import json

import pytest

from provcheck.attestation.statement import STATEMENT_V1, parse_statement
from provcheck.errors import StatementError
from tests.paths import FIXTURES_DIR, load_script

STATEMENTS = FIXTURES_DIR / "statements"
gen = load_script(STATEMENTS / "generate.py", "statements_generate")

# fixture -> what the error must say (the branch it reaches; every one is a StatementError)
EXPECTED: dict[str, str] = {
    "statement-not-json.json": r"is not valid JSON \(Unterminated string",
    "statement-not-utf8.json": r"is not valid JSON \(not UTF-8\)",
    "statement-nan.json": r"\(NaN is not JSON\)",
    "statement-number-out-of-range.json": r"number 1e400 is out of range",
    "statement-integer-too-long.json": r"is not valid JSON \(Exceeds the limit",
    "statement-nested-too-deep.json": r"nests deeper than 200 levels",
    "statement-not-an-object.json": r"statement is not a JSON object",
    "statement-gzip.json.gz": r"gzip-compressed",
    "statement-is-dsse-envelope.json": r"holds a DSSE envelope, not a statement",
    "statement-type-missing.json": r"unsupported statement _type 'None'",
    "statement-type-not-a-string.json": r"unsupported statement _type \"\['https",
    "statement-type-unknown.json": r"unsupported statement _type 'https://in-toto.io/Statement/v2'",
    "statement-predicate-type-missing.json": r"has no predicateType",
    "statement-predicate-type-empty.json": r"has no predicateType",
    "statement-predicate-type-not-a-string.json": r"has no predicateType",
    "statement-subject-not-a-list.json": r"subject must be a list",
    "statement-predicate-not-an-object.json": r"predicate must be an object",
    "statement-subject-not-an-object.json": r"subject\[0\] is not an object",
    "statement-subject-name-not-a-string.json": r"subject\[0\]: name must be a string",
    "statement-v01-subject-name-missing.json": r"subject\[0\]: Statement v0.1 requires a name",
    "statement-v01-subject-name-empty.json": r"subject\[0\]: Statement v0.1 requires a name",
    "statement-digest-missing.json": r"subject\[0\]: digest must be a non-empty object",
    "statement-digest-not-an-object.json": r"subject\[0\]: digest must be a non-empty object",
    "statement-v1-empty-digest.json": r"subject\[0\]: digest must be a non-empty object",
    "statement-digest-value-not-a-string.json": r"subject\[0\]: digest values must be strings",
}


def test_every_fixture_has_an_expectation() -> None:
    assert set(gen.CASES) == set(EXPECTED)
    assert {p.name for p in STATEMENTS.iterdir() if p.name != "generate.py"} == set(EXPECTED)


def test_the_generator_reproduces_every_committed_file() -> None:
    assert gen.generate(dump=False, verify=True) == []


def test_the_source_statement_and_its_v1_form_parse() -> None:
    """The controls: what every fixture changes one thing of is accepted, and a v1 subject
    without a name is too (only v0.1 requires one)."""
    data = gen.source_bytes()
    assert parse_statement(data).subjects[0].digest["sha256"].startswith("576e4b9f")
    doc = json.loads(data)
    doc["_type"] = STATEMENT_V1
    del doc["subject"][0]["name"]
    assert parse_statement(json.dumps(doc).encode()).subjects[0].name == ""


@pytest.mark.parametrize("name", EXPECTED)
def test_each_negative_fixture_is_rejected_by_its_branch(name: str) -> None:
    with pytest.raises(StatementError, match=EXPECTED[name]):
        parse_statement((STATEMENTS / name).read_bytes())
