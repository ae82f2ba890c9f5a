"""JUnit XML: one testsuite per image, one testcase per (rule, platform).

Elements follow the JUnit XSD order (``properties`` before the test cases). Every string from
the report passes through :func:`escape_text`: no character XML 1.0 forbids (a NUL from an
attestation) can make the file unreadable, and CI pages that show it get no control characters.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from provcheck.report.escape import escape_text
from provcheck.report.model import Report, RuleResult, Status


def _details(r: RuleResult) -> str:
    lines = [escape_text(r.message)]
    for e in r.evidence:
        sep = "" if "#" in e.source or not e.pointer else "#"
        line = f"- {e.source}{sep}{e.pointer}"
        if e.value is not None:
            line += f" = {e.value}"
        if e.remediation:
            line += f" (fix: {e.remediation})"
        lines.append(escape_text(line))
    return "\n".join(lines)


def junit_testsuite(report: Report) -> ET.Element:
    """The report's ``testsuite``: ``fail``/``incomplete`` (under on-incomplete fail) are
    failures, ``error`` errors, ``skip`` and tolerated ``incomplete`` are skipped."""
    suite = ET.Element(
        "testsuite", name=escape_text(report.reference), tests=str(len(report.results))
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("digest", report.digest),
        ("policy", report.policy),
        ("verdict", report.verdict.value),
    ):
        ET.SubElement(props, "property", name=name, value=escape_text(value))
    failures = errors = skipped = 0
    for r in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=escape_text(f"provcheck.{r.rule}"),
            name=escape_text(f"{r.rule} [{r.platform or 'image'}]"),
        )
        details = _details(r)
        message = escape_text(r.message)
        incomplete_fails = r.status is Status.INCOMPLETE and report.on_incomplete.value == "fail"
        if r.status is Status.FAIL or incomplete_fails:
            failures += 1
            el = ET.SubElement(case, "failure", message=message, type=r.status.value)
            el.text = details
        elif r.status is Status.ERROR:
            errors += 1
            el = ET.SubElement(case, "error", message=message, type="error")
            el.text = details
        elif r.status in (Status.SKIP, Status.INCOMPLETE):
            skipped += 1
            ET.SubElement(case, "skipped", message=message)
        else:
            out = ET.SubElement(case, "system-out")
            out.text = details
    if report.error is not None:  # nothing was evaluated: one test case that errored
        errors += 1
        message = escape_text(report.error)
        case = ET.SubElement(suite, "testcase", classname="provcheck", name="verification")
        ET.SubElement(case, "error", message=message, type="error").text = message
        suite.set("tests", "1")
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


def render_junit(report: Report) -> str:
    """JUnit XML: one ``testsuites`` of the report's :func:`junit_testsuite`."""
    suites = ET.Element("testsuites", name="provcheck")
    suites.append(junit_testsuite(report))
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
