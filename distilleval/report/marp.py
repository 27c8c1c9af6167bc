"""A Marp slide deck: a title slide, the verdict, then one table per slide."""

from __future__ import annotations

from dataclasses import replace

from distilleval.report.figures import Figures
from distilleval.report.markdown import header_lines, md_escape, table_markdown, verdict_markdown
from distilleval.report.tables import Table
from distilleval.report.verdict import Verdict

FRONT_MATTER = """---
marp: true
theme: default
paginate: true
size: 16:9
style: |
  section { font-size: 24px; }
  table { font-size: 20px; }
  em { color: #555; font-size: 16px; }
---"""
MAX_SLIDE_ROWS = 12


def _fit_slide(table: Table) -> Table:
    """A table cut to what one slide holds; the note says where the rest is."""
    if len(table.rows) <= MAX_SLIDE_ROWS:
        return table
    note = f"First {MAX_SLIDE_ROWS} of {len(table.rows):,} rows; the full table is in the markdown and HTML reports."
    return replace(table, rows=table.rows[:MAX_SLIDE_ROWS], notes=[note, *table.notes])


def render_marp(f: Figures, tables: list[Table], verdict: Verdict) -> str:
    """The slide deck as Marp markdown (slides separated by ``---``)."""
    slides = ["\n".join([f"# {md_escape(f.summary.spec_name)}: teacher vs fine-tuned student", "", *header_lines(f)]),
              verdict_markdown(verdict).replace("## Verdict", "# Verdict", 1)]
    for table in tables:
        slides.append(f"# {md_escape(table.title)}\n\n{table_markdown(_fit_slide(table))}")
    return FRONT_MATTER + "\n\n" + "\n\n---\n\n".join(slides) + "\n"
