"""``redact`` passes a value through only when it is exactly a redaction: a secret that merely
ends like one used to be printed in full."""

from __future__ import annotations

import pytest

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
