"""``redact`` passes a value through only when it is exactly a redaction: a secret that merely
ends like one used to be printed in full."""

from __future__ import annotations

import pytest

from provcheck._internal.secrets import TOKEN_FORMATS, looks_like_secret
from provcheck.report.redaction import redact


@pytest.mark.parametrize(
    "secret",
    [
        "hunter2…(9 chars, redacted)",
        "ghp_SECRETSECRET…(40 chars, redacted)",
        "…(x) hunter2 9 chars, redacted)",
        "…(9 chars, redacted) hunter2 …(9 chars, redacted)",
        "…(٩ chars, redacted)hunter2…(9 chars, redacted)",
    ],
)
def test_a_secret_that_looks_redacted_is_redacted(secret: str) -> None:
    shown = redact(secret)
    assert "hunter2" not in shown and "SECRET" not in shown
    assert shown.endswith(f"({len(secret)} chars, redacted)")


@pytest.mark.parametrize("value", ["ghp_" + "x" * 36, "AKIAFAKEFAKEFAKE", "npm_abc", "plain"])
def test_redacting_a_redaction_returns_it(value: str) -> None:
    once = redact(value)
    assert redact(once) == once


# One fake token per format whose redaction names its kind (none is or was ever valid).
KIND_SAMPLES = [
    ("ghs_" + "A1b2" * 9, "GitHub token"),
    ("npm_" + "A1b2" * 9, "npm token"),
    ("ASIAFAKEFAKEFAKE0000", "AWS access key id"),
    ("xoxp-1234567890-FAKE", "Slack token"),
    ("glpat-" + "A1b2" * 6, "GitLab token"),
    ("sk_test_" + "A1b2" * 5, "Stripe key"),
    ("hf_" + "A1b2" * 9, "Hugging Face token"),
    ("dor_v1_" + "0123456789abcdef" * 4, "DigitalOcean token"),
    ("sqa_" + "0123456789" * 4, "SonarQube token"),
    ("shpss_" + "0123456789abcdef" * 2, "Shopify token"),
]


@pytest.mark.parametrize(("token", "kind"), KIND_SAMPLES)
def test_detection_and_redaction_read_one_table(token: str, kind: str) -> None:
    match = looks_like_secret(None, token)
    assert match is not None and match.reason == f"value looks like a {kind}"
    (fmt,) = [f for f in TOKEN_FORMATS if f.kind == kind]
    shown = redact(token)
    assert any(shown == f"{p}…({len(token)} chars, redacted)" for p in fmt.shown)


def test_shown_prefixes_are_short_and_name_one_format() -> None:
    prefixes = [p for f in TOKEN_FORMATS for p in f.shown]
    assert all(len(p) <= 4 for p in prefixes)
    assert len(prefixes) == len(set(prefixes))
    assert {kind for _, kind in KIND_SAMPLES} == {f.kind for f in TOKEN_FORMATS if f.shown}
