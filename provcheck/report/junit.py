"""JUnit XML: one testsuite per image, one testcase per (rule, platform)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from provcheck.report.model import Report, Status


def _details(report: Report, index: int) -> str:
    r = report.results[index]
    lines = [r.message]
    for e in r.evidence:
        line = f"- {e.source}{e.pointer}"
        if e.value is not None:
            line += f" = {e.value}"
        if e.remediation:
            line += f" (fix: {e.remediation})"
        lines.append(line)
    return "\n".join(lines)


def render_junit(report: Report) -> str:
    """JUnit XML; ``fail``/``incomplete`` (under on-incomplete fail) are failures, ``error``
    errors, ``skip`` and tolerated ``incomplete`` are skipped."""
    suite = ET.Element("testsuite", name=f"{report.reference}", tests=str(len(report.results)))
    failures = errors = skipped = 0
    for i, r in enumerate(report.results):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"provcheck.{r.rule}",
            name=f"{r.rule} [{r.platform or 'image'}]",
        )
        details = _details(report, i)
        incomplete_fails = r.status is Status.INCOMPLETE and report.on_incomplete.value == "fail"
        if r.status is Status.FAIL or incomplete_fails:
            failures += 1
            el = ET.SubElement(case, "failure", message=r.message, type=r.status.value)
            el.text = details
        elif r.status is Status.ERROR:
            errors += 1
            el = ET.SubElement(case, "error", message=r.message, type="error")
            el.text = details
        elif r.status in (Status.SKIP, Status.INCOMPLETE):
            skipped += 1
            ET.SubElement(case, "skipped", message=r.message)
        else:
            out = ET.SubElement(case, "system-out")
            out.text = details
    if report.error is not None:  # nothing was evaluated: one test case that errored
        errors += 1
        case = ET.SubElement(suite, "testcase", classname="provcheck", name="verification")
        ET.SubElement(case, "error", message=report.error, type="error").text = report.error
        suite.set("tests", "1")
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("digest", report.digest),
        ("policy", report.policy),
        ("verdict", report.verdict.value),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    suites = ET.Element("testsuites", name="provcheck")
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
