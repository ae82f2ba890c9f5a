"""``--format html``: one self-contained page an auditor opens (no external asset, no network).

Streamed: the header opens the page and the table of images, each part is one row rendered
here (attestation text never reaches a script or a style: it is HTML-escaped text in the
page), the footer adds the totals, the charts (inline SVG drawn here), the trust levels, the
failing rules with their remediation, the errors and the ``--since`` changes. CSS ``order``
shows the summary above the table it follows in the file. A small inline script sorts and
filters the rows.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Final

from provcheck.audit.render import (
    change_detail,
    diff_counts,
    failed_rules,
    short_digest,
    totals_line,
)
from provcheck.audit.since import Diff
from provcheck.audit.summary import Summary, error_message, trust_levels
from provcheck.report.escape import escape_text
from provcheck.report.model import Report, Verdict


def h(text: str) -> str:
    """``text`` safe as HTML text or a quoted attribute value, on one line."""
    return html.escape(escape_text(text), quote=True)


COLOURS: Final = {Verdict.PASS: "#1a7f37", Verdict.FAIL: "#cf222e", Verdict.ERROR: "#9a6700"}
TOP_RULES: Final = 10

_CSS: Final = """
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg)}
main{display:flex;flex-direction:column;gap:20px;max-width:1320px;margin:0 auto;padding:20px 24px}
h1{font-size:22px;margin:0}h2{font-size:17px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 4px}
section{background:#fff}
.summary{order:0}.since{order:1}.images{order:2}.rules{order:3}.errors{order:4}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:24px}.card span{color:var(--muted)}
.charts{display:grid;grid-template-columns:1fr 1.25fr .75fr;gap:16px;align-items:start}
.chart{border:1px solid var(--line);border-radius:8px;padding:12px}
.chart svg{display:block;width:100%;height:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--bg);position:sticky;top:0}
#images th{cursor:pointer;user-select:none;white-space:nowrap}
#images th[aria-sort=ascending]::after{content:" \\25B2"}
#images th[aria-sort=descending]::after{content:" \\25BC"}
td.ref{width:45%;overflow-wrap:anywhere}
.clamp{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}td.detail{color:var(--muted);overflow-wrap:anywhere}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.v{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px}
.v.pass{background:#1a7f37}.v.fail{background:#cf222e}.v.error{background:#9a6700}
.controls{display:flex;gap:8px;align-items:center;margin-bottom:8px}
.controls input{flex:1;max-width:420px;padding:5px 8px;
border:1px solid var(--line);border-radius:6px}
.controls select{padding:5px;border:1px solid var(--line);border-radius:6px}
.muted{color:var(--muted)}
.rule{border-left:3px solid #cf222e;padding:2px 0 2px 12px;margin:10px 0}
.rule ul{margin:4px 0;padding-left:20px}
.remedy{background:#fff8c5;border-radius:6px;padding:4px 8px;margin:4px 0}
tr[data-change=newly_failing] td:first-child{color:#cf222e;font-weight:600}
tr[data-change=fixed] td:first-child{color:#1a7f37;font-weight:600}
"""

_JS: Final = """
(function(){
var table=document.getElementById("images"),body=table.tBodies[0],
rows=Array.prototype.slice.call(body.rows),text=document.getElementById("filter"),
verdict=document.getElementById("verdict"),shown=document.getElementById("shown");
function apply(){var q=text.value.toLowerCase(),v=verdict.value,n=0;
rows.forEach(function(r){var ok=(!v||r.dataset.verdict===v)&&
(!q||r.textContent.toLowerCase().indexOf(q)>=0);r.hidden=!ok;if(ok)n++;});
shown.textContent=n+" of "+rows.length+" shown";}
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
th.addEventListener("click",function(){
var up=th.getAttribute("aria-sort")!=="ascending",num=th.dataset.type==="number";
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",up?"ascending":"descending");
rows.sort(function(a,b){var x=a.cells[i].textContent,y=b.cells[i].textContent,
d=num?(+x)-(+y):x.localeCompare(y);return up?d:-d;});
rows.forEach(function(r){body.appendChild(r);});});});
text.addEventListener("input",apply);verdict.addEventListener("change",apply);apply();
})();
"""


def _verdict_chart(tally: Counter[Verdict]) -> str:
    """One horizontal bar per verdict, with its count."""
    total = max(1, sum(tally.values()))
    rows = []
    for i, verdict in enumerate(Verdict):
        y = 10 + i * 34
        width = 190 * tally[verdict] / total
        rows.append(
            f'<text x="0" y="{y + 17}" font-size="13">{verdict.value}</text>'
            f'<rect x="60" y="{y}" width="{width:.1f}" height="24" rx="3" '
            f'fill="{COLOURS[verdict]}"/>'
            f'<text x="{66 + width:.1f}" y="{y + 17}" font-size="13">{tally[verdict]}</text>'
        )
    return (
        '<svg id="verdict-chart" viewBox="0 0 300 112" role="img" '
        'aria-label="images per verdict">' + "".join(rows) + "</svg>"
    )


def _rules_chart(summary: Summary) -> str:
    """The most failed rules, a bar each: the number of images that did not pass it."""
    groups = summary.most_failed()[:TOP_RULES]
    if not groups:
        return '<p class="muted">No rule failed.</p>'
    most = len(groups[0][1].references)
    rows = []
    for i, (rule, group) in enumerate(groups):
        y = 6 + i * 26
        n = len(group.references)
        width = 240 * n / most
        label = rule if len(rule) <= 24 else rule[:23] + "…"
        rows.append(
            f'<text x="150" y="{y + 14}" font-size="12" text-anchor="end">{h(label)}'
            f"<title>{h(rule)}</title></text>"
            f'<rect x="158" y="{y}" width="{width:.1f}" height="18" rx="3" fill="#cf222e"/>'
            f'<text x="{164 + width:.1f}" y="{y + 14}" font-size="12">{n}</text>'
        )
    height = 12 + 26 * len(groups)
    return (
        f'<svg id="rules-chart" viewBox="0 0 460 {height}" role="img" '
        f'aria-label="most failed rules">' + "".join(rows) + "</svg>"
    )


class HtmlWriter:
    """The HTML report, written as it comes (see the module's docstring)."""

    def __init__(self, since: Diff | None = None) -> None:
        self._summary = Summary()
        self._since = since

    def header(self) -> str:
        options = "".join(f'<option value="{v.value}">{v.value}</option>' for v in Verdict)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>provcheck audit</title><style>{_CSS}</style></head><body><main>\n"
            '<section class="images"><h2>Images</h2><div class="controls">'
            '<input id="filter" type="search" placeholder="Filter: reference, rule, trust…" '
            'aria-label="filter">'
            f'<select id="verdict" aria-label="verdict"><option value="">all verdicts</option>'
            f'{options}</select><span id="shown" class="muted"></span></div>\n'
            '<table id="images"><thead><tr><th data-type="number">#</th><th>Reference</th>'
            "<th>Digest</th><th>Verdict</th><th>Trust</th><th>Not passed / error</th></tr>"
            "</thead><tbody>\n"
        )

    def part(self, report: Report, index: int | None = None) -> str:
        self._summary.add(report)
        if self._since is not None:
            self._since.add(report)
        number = sum(self._summary.verdicts.values())
        verdict = report.verdict.value
        if report.verdict is Verdict.ERROR:
            detail = error_message(report)
        else:
            detail = ", ".join(failed_rules(report))
        digest = (
            f'<code title="{h(report.digest)}">{h(short_digest(report.digest))}</code>'
            if report.digest
            else '<span class="muted">-</span>'
        )
        return (
            f'<tr data-verdict="{verdict}"><td>{number}</td><td class="ref">{h(report.reference)}'
            f'</td><td>{digest}</td><td><span class="v {verdict}">{verdict}</span></td>'
            f"<td>{h(', '.join(trust_levels(report)) or '-')}</td>"
            f'<td class="detail"><div class="clamp" title="{h(detail)}">{h(detail)}</div>'
            "</td></tr>\n"
        )

    def footer(self, tally: Counter[Verdict]) -> str:
        out = ["</tbody></table></section>\n", self._head(tally)]
        if self._since is not None:
            out.append(self._diff(self._since))
        out += [self._rules(), self._errors(), f"<script>{_JS}</script></main></body></html>\n"]
        return "".join(out)

    def _head(self, tally: Counter[Verdict]) -> str:
        cards = [f'<div class="card"><b>{sum(tally.values())}</b><span>images</span></div>']
        cards += [
            f'<div class="card" style="border-color:{COLOURS[v]}"><b>{tally[v]}</b>'
            f"<span>{v.value}</span></div>"
            for v in Verdict
        ]
        trust = "".join(
            f"<tr><td>{h(level)}</td><td>{n}</td></tr>"
            for level, n in sorted(self._summary.trust.items())
        )
        return (
            f'<section class="summary"><h1>provcheck audit</h1>'
            f'<p class="muted" id="totals">{h(totals_line(tally))}</p>'
            f'<div class="cards">{"".join(cards)}</div><div class="charts">'
            f'<div class="chart"><h2>Verdicts</h2>{_verdict_chart(tally)}</div>'
            f'<div class="chart"><h2>Most failed rules</h2>{_rules_chart(self._summary)}</div>'
            f'<div class="chart"><h2>Trust levels</h2><table id="trust"><thead><tr>'
            f"<th>Trust level</th><th>Images</th></tr></thead><tbody>{trust}</tbody></table>"
            "</div></div></section>\n"
        )

    def _rules(self) -> str:
        out = ['<section class="rules"><h2>Failing rules</h2>']
        groups = self._summary.most_failed()
        if not groups:
            out.append('<p class="muted">None.</p>')
        for rule, group in groups:
            n = len(group.references)
            out.append(
                f'<div class="rule"><h3>{h(rule)} <span class="muted">({n} image'
                f"{'s' if n != 1 else ''})</span></h3>"
            )
            out += [
                f'<div class="remedy"><b>Remediation:</b> {h(text)}</div>'
                for text in sorted(group.remediations)
            ]
            items = "".join(f"<li>{h(ref)}</li>" for ref in group.references)
            out.append(f"<ul>{items}</ul></div>")
        out.append("</section>\n")
        return "".join(out)

    def _errors(self) -> str:
        errors = self._summary.errors
        if not errors:
            return '<section class="errors"><h2>Errors</h2><p class="muted">None.</p></section>\n'
        rows = "".join(
            f'<tr><td class="ref">{h(ref)}</td><td>{h(message)}</td></tr>'
            for ref, message in errors
        )
        return (
            '<section class="errors"><h2>Errors</h2><table id="errors"><thead><tr>'
            f"<th>Reference</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table>"
            "</section>\n"
        )

    @staticmethod
    def _diff(diff: Diff) -> str:
        rows = "".join(
            f'<tr data-change="{c.change.name.lower()}"><td>{c.change.value}</td>'
            f'<td class="ref">{h(c.reference)}</td><td>{h(change_detail(c))}</td></tr>'
            for c in diff.changes()
        )
        return (
            f'<section class="since"><h2>Since {h(diff.name)}</h2>'
            f'<p class="muted">{h(diff_counts(diff))}</p><table id="since"><thead><tr>'
            f"<th>Change</th><th>Reference</th><th>Before → now</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>\n"
        )
