"""The Markdown summary: streamed rows, totals, failing rules grouped once with their
remediation and images, errors, and attestation text that cannot become Markdown or HTML."""

from __future__ import annotations

from collections import Counter

from provcheck.audit.render import AuditFormat, md, writer
from provcheck.report.model import Evidence, Report, RuleResult, Status, Verdict

DIGEST = "sha256:" + "ab" * 32


def _report(reference: str, *results: RuleResult) -> Report:
    return Report(policy="p", reference=reference, digest=DIGEST, results=results)


def _fail(rule: str, remediation: str) -> RuleResult:
    evidence = (Evidence("s", "/x", None, remediation, "signed"),)
    return RuleResult(rule, Status.FAIL, None, "bad", evidence, trust="signed")


def _render(reports: list[Report]) -> str:
    out = writer(AuditFormat.MARKDOWN)
    text = out.header() + "".join(out.part(r) for r in reports)
    return text + out.footer(Counter(r.verdict for r in reports))


def test_the_summary_groups_failing_rules_once_with_their_images() -> None:
    ok = RuleResult("builder", Status.PASS, None, "ok", trust="index-bound")
    reports = [
        _report("r.example/a:1", ok),
        _report("r.example/b:1", _fail("build-args", "Remove the secret.")),
        _report("r.example/c:1", _fail("build-args", "Remove the secret."), _fail("sbom", "Add")),
        Report.from_error("not found", reference="r.example/gone:1", policy="p"),
    ]
    text = _render(reports)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "r\\.example" in line]
    assert len(rows) == 4
    assert "| r\\.example/a:1 | sha256:abababababab | **pass** | index\\-bound |" in rows[0]
    assert "| r\\.example/gone:1 | - | **error** | - |" in rows[3]
    assert "4 images: 1 pass, 2 fail, 1 error" in text
    assert text.count("### build\\-args (2 images)") == 1
    assert text.count("**Remediation:** Remove the secret\\.") == 1
    assert "### sbom (1 image)" in text
    failing = text.split("## Failing rules")[1].split("## Errors")[0]
    assert failing.index("build\\-args") < failing.index("sbom")  # most failed first
    assert "- r\\.example/b:1\n- r\\.example/c:1\n" in failing
    assert "- r\\.example/gone:1: not found" in text.split("## Errors")[1]
    assert "| signed | 2 |" in text and "| none | 1 |" in text


def test_attestation_text_stays_literal_text() -> None:
    hostile = "a|b`c`\n# h <script>x</script> [l](http://e) &amp; *e*\x1b[31m"
    shown = md(hostile)
    assert "\n" not in shown and "\x1b" not in shown
    for raw in ("|", "`", "<", "[", "*", "&", "#"):
        assert raw not in shown.replace("\\" + raw, "")  # every one backslash-escaped
    reports = [_report("r.example/a:1", _fail(hostile, hostile))]
    text = _render(reports)
    assert "<script>" not in text and "\n# h" not in text
    table_row = next(line for line in text.splitlines() if "r\\.example/a:1 |" in line)
    assert table_row.count(" | ") == 4  # the row keeps its five cells
    assert Verdict.FAIL.value in table_row
