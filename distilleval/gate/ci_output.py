"""The gate's output for people and CI: one line per check, JUnit XML, GitHub step summary and annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from distilleval.errors import DataError
from distilleval.files import write_text_atomic
from distilleval.gate.checks import Check


def check_line(check: Check) -> str:
    """The one printed line for a check."""
    return f"{check.status.upper():4}  {check.name:28} {check.message}"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder, renamed over it.

    Raises:
        DataError: the folder cannot be created or written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as err:
        raise DataError(f"{path}: cannot write ({err.strerror or err})") from None


def junit_xml(checks: Sequence[Check], *, suite_name: str) -> str:
    """JUnit XML with one test case per check (failures and skips marked)."""
    failures = sum(c.status == "fail" for c in checks)
    skipped = sum(c.status == "skip" for c in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "distilleval gate", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **counts})
    for check in checks:
        case = ET.SubElement(suite, "testcase", {"classname": f"distilleval.gate.{suite_name}", "name": check.name})
        if check.status == "fail":
            ET.SubElement(case, "failure", {"message": check.message, "type": "GateFailed"}).text = check.message
        elif check.status == "skip":
            ET.SubElement(case, "skipped", {"message": check.message})
        ET.SubElement(case, "system-out").text = check_line(check)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(checks: Sequence[Check], path: Path, *, suite_name: str) -> None:
    """Write the JUnit XML atomically."""
    atomic_write(path, junit_xml(checks, suite_name=suite_name))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def step_summary_markdown(checks: Sequence[Check], *, title: str) -> str:
    """The markdown appended to ``$GITHUB_STEP_SUMMARY``."""
    failed = sum(c.status == "fail" for c in checks)
    outcome = "FAIL" if failed else "PASS"
    lines = [f"### distilleval gate: {outcome} — {_md_cell(title)}", "", "| Check | Result | Numbers |", "|---|---|---|"]
    icons = {"pass": "pass", "fail": "**FAIL**", "skip": "skipped"}
    for check in checks:
        lines.append(f"| `{check.name}` | {icons[check.status]} | {_md_cell(check.message)} |")
    return "\n".join(lines) + "\n\n"


def github_annotation(check: Check) -> str:
    """A GitHub Actions ``::error`` workflow command for a failed check."""
    text = f"distilleval gate {check.name}: {check.message}"
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error ::{text}"
