"""Render a run's reports beside its ``summary.json``."""

from __future__ import annotations

from pathlib import Path

from distilleval.files import write_text_atomic

REPORT_FORMATS = ("md", "html")


def write_reports(run_dir: Path, formats: tuple[str, ...] = REPORT_FORMATS) -> list[Path]:
    """Render the run's report in each format beside its summary (atomically)."""
    from distilleval.report.render import EXTENSIONS, render_run

    written = []
    for fmt in formats:
        text = render_run(run_dir, fmt)
        target = run_dir / f"report{EXTENSIONS[fmt]}"
        write_text_atomic(target, text)
        written.append(target)
    return written
