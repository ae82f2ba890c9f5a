"""The HTML report: its DOM (one row per input, the counts), no external asset, and
attestation text that stays text (never markup, never in a script or a style)."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from provcheck.audit.render import AuditFormat, writer
from provcheck.audit.since import Before, Diff
from provcheck.report.model import Evidence, Report, RuleResult, Status, Verdict

DIGEST = "sha256:" + "cd" * 32
HOSTILE = '</script><script>alert(1)</script><img src="https://evil.example/x.png">\u202e'


class Dom(HTMLParser):
    """The parts of the page the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.rows: list[dict[str, str | None]] = []  # the images table's body rows
        self.cells: list[list[str]] = []
        self.tags: Counter[str] = Counter()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self.in_images = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        values = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "table":
            self.in_images = values.get("id") == "images"
        if tag == "tr" and self.in_images and "data-verdict" in values:
            self.rows.append(values)
            self.cells.append([])
        if tag not in ("meta", "input", "rect", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.in_images = False
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)
        if self.in_images and self.cells and "td" in self.stack:
            self.cells[-1].append(data)


def _fail(rule: str, remediation: str) -> RuleResult:
    evidence = (Evidence("s", "/x", None, remediation, "signed"),)
    return RuleResult(rule, Status.FAIL, None, HOSTILE, evidence, trust="signed")


def _page(reports: list[Report], since: Diff | None = None) -> str:
    out = writer(AuditFormat.HTML, since)
    text = out.header() + "".join(out.part(r) for r in reports)
    return text + out.footer(Counter(r.verdict for r in reports))


def _reports() -> list[Report]:
    ok = RuleResult("builder", Status.PASS, None, "ok", trust="index-bound")
    return [
        Report(policy="p", reference="r.example/a:1", digest=DIGEST, results=(ok,)),
        Report(
            policy="p",
            reference=f"r.example/{HOSTILE}",
            digest=DIGEST,
            results=(_fail(HOSTILE, HOSTILE),),
        ),
        Report.from_error(HOSTILE, reference="r.example/gone:1", policy="p"),
        Report(policy="p", reference="r.example/a:1", digest=DIGEST, results=(ok,)),
    ]


def test_one_row_per_input_and_the_counts_match() -> None:
    reports = _reports()
    previous = {"r.example/a:1": Before(Verdict.FAIL, DIGEST), "old:1": Before(Verdict.PASS, "")}
    page = _page(reports, Diff(previous, "prev.jsonl"))
    dom = Dom()
    dom.feed(page)
    assert [row["data-verdict"] for row in dom.rows] == ["pass", "fail", "error", "pass"]
    assert [cells[0] for cells in dom.cells] == ["1", "2", "3", "4"]
    assert "4 images: 2 pass, 1 fail, 1 error" in page
    assert dom.tags["svg"] == 2 and dom.tags["script"] == 1  # the charts, the sort/filter code
    assert 'id="since"' in page and "fixed" in page and "gone" in page
    assert page.count('<div class="rule">') == 1


def test_no_external_asset_and_attestation_text_stays_text() -> None:
    page = _page(_reports())
    dom = Dom()
    dom.feed(page)
    assert dom.urls == []  # no src/href at all: nothing is loaded
    assert dom.tags["img"] == 0 and dom.tags["script"] == 1 and dom.tags["link"] == 0
    assert "<img" not in page and "</script><script>" not in page
    assert "http://" not in page.replace("https://evil.example", "")
    assert "https://evil.example" in page  # only as escaped text
    assert all("evil" not in script for script in dom.scripts)
    assert "\u202e" not in page and "\\u202e" in page  # bidi override shown, not applied
    style = page.split("<style>")[1].split("</style>")[0]
    assert "evil" not in style and "url(" not in style
