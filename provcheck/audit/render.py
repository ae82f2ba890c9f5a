"""An audit's results in each format, written as they come: a header, one part per report
(in input order), and a footer with the totals. No report is held."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from enum import StrEnum
from typing import Any, Final, Protocol, assert_never

from provcheck.audit.since import Before, Changed, Diff
from provcheck.audit.summary import Summary, trust_levels
from provcheck.report.escape import escape_surrogates, escape_text
from provcheck.report.json import INPUT_INDEX, report_to_dict
from provcheck.report.model import Report, Status, Verdict
from provcheck.report.sarif import SARIF_SCHEMA


class AuditFormat(StrEnum):
    """The ``--format`` of ``provcheck audit`` (and ``audit merge``)."""

    TEXT = "text"
    JSONL = "jsonl"
    CSV = "csv"
    SARIF = "sarif"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"


class AuditWriter(Protocol):
    """Renders an audit piece by piece."""

    def header(self) -> str: ...
    def part(self, report: Report, index: int | None = None) -> str:
        """``report``, the result of the input at position ``index`` of the audit (JSONL
        records carry it; ``None``: not known, as in a merge of old files)."""
        ...

    def footer(self, tally: Counter[Verdict]) -> str: ...


def jsonl_line(report: Report, index: int | None = None) -> str:
    """One JSONL record: the report's JSON on one line, ``subject.digest`` null when none was
    resolved (an error report), and ``inputIndex`` (:data:`~provcheck.report.json.INPUT_INDEX`)
    its input's position when given. :func:`provcheck.report.json.parse_report` reads it back."""
    doc: dict[str, Any] = report_to_dict(report)
    if index is not None:
        doc[INPUT_INDEX] = index
    if not report.digest:
        doc["subject"]["digest"] = None
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return escape_surrogates(text) + "\n"


def totals_line(tally: Counter[Verdict]) -> str:
    """``3 images: 1 pass, 1 fail, 1 error``."""
    counts = ", ".join(f"{tally[v]} {v.value}" for v in Verdict)
    total = sum(tally.values())
    return f"{total} image{'' if total == 1 else 's'}: {counts}"


def failed_rules(report: Report) -> list[str]:
    """The rules with a result worse than pass (fail, error, incomplete)."""
    worse = Status.PASS.severity
    return sorted({r.rule for r in report.results if r.status.severity > worse})


class _Jsonl:
    def header(self) -> str:
        return ""

    def part(self, report: Report, index: int | None = None) -> str:
        return jsonl_line(report, index)

    def footer(self, tally: Counter[Verdict]) -> str:
        return ""


_TEXT_ROW: Final = "{verdict:<7} {digest:<19} {reference}{detail}\n"


def _state(before: Before | None, digest: bool) -> str:
    if before is None:
        return "-"
    shown = short_digest(before.digest) if digest else ""
    return f"{before.verdict.value} {shown}" if shown else before.verdict.value


def change_detail(changed: Changed) -> str:
    """``pass -> fail`` (with the short digests when they differ)."""
    before, after = changed.before, changed.after
    digest = before is None or after is None or before.digest != after.digest
    return f"{_state(before, digest)} -> {_state(after, digest)}"


def diff_counts(diff: Diff) -> str:
    """``1 newly failing, 0 fixed, 2 digest changed, 1 new, 0 gone``."""
    return ", ".join(f"{n} {change.value}" for change, n in diff.counts())


class _Text:
    def __init__(self, since: Diff | None = None) -> None:
        self._since = since

    def header(self) -> str:
        names = {"verdict": "VERDICT", "digest": "DIGEST", "reference": "REFERENCE"}
        return _TEXT_ROW.format(**names, detail="")

    def part(self, report: Report, index: int | None = None) -> str:
        if self._since is not None:
            self._since.add(report)
        if report.error is not None:
            detail = f"  ({report.error})"
        else:
            rules = failed_rules(report)
            detail = f"  (not passed: {', '.join(rules)})" if rules else ""
        return _TEXT_ROW.format(
            verdict=report.verdict.value.upper(),
            digest=report.digest[:19] or "-",
            reference=escape_text(report.reference),
            detail=escape_text(detail),
        )

    def footer(self, tally: Counter[Verdict]) -> str:
        out = totals_line(tally) + "\n"
        if self._since is not None:
            out += f"\nsince {escape_text(self._since.name)}: {diff_counts(self._since)}\n"
            for changed in self._since.changes():
                detail = change_detail(changed)
                out += f"{changed.change.value.upper():<15} {escape_text(changed.reference)}"
                out += f"  ({escape_text(detail)})\n"
        return out


_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS: Final = ("reference", "digest", "verdict", *Status, "rules", "error")
"""The columns: then the number of results of each status, the rules not passed, the error."""


def csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading ``= + - @`` (or tab, CR) gets a ``'``."""
    shown = escape_text(value)
    return "'" + shown if value.startswith(_FORMULA_START) else shown


class _Csv:
    @staticmethod
    def _row(cells: list[str]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow([csv_cell(c) for c in cells])
        return out.getvalue()

    def header(self) -> str:
        return self._row(list(CSV_COLUMNS))

    def part(self, report: Report, index: int | None = None) -> str:
        counts = [str(n) for n in report.counts().values()]
        cells = [report.reference, report.digest, report.verdict.value, *counts]
        return self._row([*cells, " ".join(failed_rules(report)), report.error or ""])

    def footer(self, tally: Counter[Verdict]) -> str:
        return ""


class _Sarif:
    """SARIF 2.1.0: one run per image."""

    def __init__(self) -> None:
        self._runs = 0

    def header(self) -> str:
        return f'{{"$schema": {json.dumps(SARIF_SCHEMA)}, "version": "2.1.0", "runs": [\n'

    def part(self, report: Report, index: int | None = None) -> str:
        from provcheck.report.sarif import sarif_run

        run = sarif_run(report)
        run["properties"]["reference"] = report.reference
        text = escape_surrogates(json.dumps(run, ensure_ascii=False))
        self._runs += 1
        return ("" if self._runs == 1 else ",\n") + text

    def footer(self, tally: Counter[Verdict]) -> str:
        return "\n]}\n"


class _Junit:
    """JUnit XML: one testsuite per image."""

    def header(self) -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="provcheck">\n'

    def part(self, report: Report, index: int | None = None) -> str:
        from provcheck.report.junit import junit_testsuite

        suite = junit_testsuite(report)
        ET.indent(suite, level=1)
        return "  " + ET.tostring(suite, encoding="unicode") + "\n"

    def footer(self, tally: Counter[Verdict]) -> str:
        return "</testsuites>\n"


_MD_PUNCTUATION: Final = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&])")


def md(text: str) -> str:
    """``text`` as literal Markdown on one line: controls and line breaks escaped visibly
    (:func:`escape_text`), then every character with a meaning in Markdown backslash-escaped (pipes,
    backticks, emphasis, links, lists, HTML tags and entities show as the characters they are)."""
    return _MD_PUNCTUATION.sub(r"\\\1", escape_text(text))


def short_digest(digest: str) -> str:
    """``sha256:0123456789ab``: the algorithm and 12 hex digits (empty for none)."""
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}" if hexdigits else digest


class _Markdown:
    """A summary an auditor reads: the verdict of every image in a table (streamed), then
    the totals, the failing rules with their remediation, the trust levels and the errors."""

    def __init__(self, since: Diff | None = None) -> None:
        self._summary = Summary()
        self._since = since

    def header(self) -> str:
        return (
            "# provcheck audit\n\n"
            "Totals, failing rules and errors follow the table.\n\n"
            "| # | Reference | Digest | Verdict | Trust |\n"
            "|---:|---|---|---|---|\n"
        )

    def part(self, report: Report, index: int | None = None) -> str:
        self._summary.add(report)
        if self._since is not None:
            self._since.add(report)
        number = sum(self._summary.verdicts.values())
        trust = ", ".join(md(level) for level in trust_levels(report)) or "-"
        return (
            f"| {number} | {md(report.reference)} | {md(short_digest(report.digest)) or '-'} "
            f"| **{report.verdict.value}** | {trust} |\n"
        )

    def footer(self, tally: Counter[Verdict]) -> str:
        summary = self._summary
        out = [f"\n## Totals\n\n{md(totals_line(tally))}\n"]
        if summary.trust:
            out.append("\n### Trust levels\n\n| Trust level | Images |\n|---|---:|\n")
            out += [f"| {md(level)} | {n} |\n" for level, n in sorted(summary.trust.items())]
        out.append("\n## Failing rules\n\n")
        groups = summary.most_failed()
        if not groups:
            out.append("None.\n")
        for rule, group in groups:
            images = len(group.references)
            out.append(f"### {md(rule)} ({images} image{'s' if images != 1 else ''})\n\n")
            out += [f"**Remediation:** {md(text)}\n\n" for text in sorted(group.remediations)]
            out += [f"- {md(ref)}\n" for ref in group.references]
            out.append("\n")
        out.append("## Errors\n\n")
        if not summary.errors:
            out.append("None.\n")
        out += [f"- {md(ref)}: {md(message)}\n" for ref, message in summary.errors]
        if self._since is not None:
            out.append(f"\n## Since {md(self._since.name)}\n\n{md(diff_counts(self._since))}\n")
            changes = self._since.changes()
            if changes:
                out.append("\n| Change | Reference | Before → now |\n|---|---|---|\n")
            out += [
                f"| {c.change.value} | {md(c.reference)} | {md(change_detail(c))} |\n"
                for c in changes
            ]
        return "".join(out)


SINCE_FORMATS: Final = frozenset({AuditFormat.TEXT, AuditFormat.MARKDOWN, AuditFormat.HTML})
"""The formats with a ``--since`` section."""


def writer(fmt: AuditFormat, since: Diff | None = None) -> AuditWriter:
    """A fresh writer of ``fmt``, with a section of the changes ``since`` (in a format of
    :data:`SINCE_FORMATS`)."""
    if since is not None and fmt not in SINCE_FORMATS:
        raise ValueError(f"no --since section in {fmt}")
    if fmt is AuditFormat.TEXT:
        return _Text(since)
    if fmt is AuditFormat.JSONL:
        return _Jsonl()
    if fmt is AuditFormat.CSV:
        return _Csv()
    if fmt is AuditFormat.SARIF:
        return _Sarif()
    if fmt is AuditFormat.JUNIT:
        return _Junit()
    if fmt is AuditFormat.MARKDOWN:
        return _Markdown(since)
    if fmt is AuditFormat.HTML:
        from provcheck.audit.html_report import HtmlWriter

        return HtmlWriter(since)
    assert_never(fmt)
