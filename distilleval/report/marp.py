"""A Marp slide deck: a title slide, the verdict, then one table per slide."""

from __future__ import annotations

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


def render_marp(f: Figures, tables: list[Table], verdict: Verdict) -> str:
    """The slide deck as Marp markdown (slides separated by ``---``)."""
    slides = ["\n".join([f"# {md_escape(f.summary.spec_name)}: teacher vs fine-tuned student", "", *header_lines(f)]),
              verdict_markdown(verdict).replace("## Verdict", "# Verdict", 1)]
    for table in tables:
        slides.append(f"# {md_escape(table.title)}\n\n{table_markdown(table)}")
    return FRONT_MATTER + "\n\n" + "\n\n---\n\n".join(slides) + "\n"
