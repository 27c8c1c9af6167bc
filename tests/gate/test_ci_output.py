"""The gate's CI output: JUnit XML and GitHub annotations / step summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from distilleval.gate.checks import Check
from distilleval.gate.ci_output import github_annotation, junit_xml, step_summary_markdown


def test_junit_xml_parses_with_the_right_counts():
    checks = [Check("a", "pass", "ok"), Check("b", "fail", "x < y & <z>"), Check("c", "skip", "no data")]
    root = ET.fromstring(junit_xml(checks, suite_name="ticket_routing"))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("3", "1", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["a", "b", "c"]
    assert cases[1].find("failure").get("message") == "x < y & <z>"
    assert cases[2].find("skipped") is not None and cases[0].find("failure") is None


def test_github_outputs_escape_and_tabulate():
    check = Check("max_p95_latency", "fail", "p95 900 ms > 800 ms | 100%\nsecond line")
    assert github_annotation(check) == "::error ::distilleval gate max_p95_latency: p95 900 ms > 800 ms | 100%25%0Asecond line"
    text = step_summary_markdown([check], title="ticket_routing run r1")
    assert "### distilleval gate: FAIL" in text and "\\|" in text and "\nsecond" not in text
