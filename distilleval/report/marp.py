"""A Marp slide deck: a title slide, the verdict, then the tables, every slide fitted to the page.

Slides are laid out by ``slides`` (long tables split or cut with a note, notes that do not fit
moved to a slide of their own). The verdict's marks are plain text glyphs: Marp turns emoji
into images fetched from a CDN, which a deck shown offline would draw as broken images.
"""

from __future__ import annotations

from distilleval.report.figures import Figures
from distilleval.report.markdown import header_lines, md_escape
from distilleval.report.slides import DECK_STYLE, Block, Slide, deck_markdown, table_slides, text_slides
from distilleval.report.tables import Table
from distilleval.report.verdict import Verdict

FRONT_MATTER = f"""---
marp: true
theme: default
paginate: true
size: 16:9
style: |
  {DECK_STYLE}
---"""
SLIDE_MARK = {"pass": "✓", "fail": "✗", "unknown": "?", "projected": "≈"}
"""Verdict marks that no Marp emoji plugin turns into an image (unlike ✅ ❌ ❔ 📐)."""


def _per_class_cut_note(shown: int, total: int) -> str:
    return (f"The {shown} worst of {total:,} classes by F1 are shown; the markdown and HTML reports and "
            "`report --format csv` list every class.")


def _confusions_cut_note(shown: int, total: int) -> str:
    return f"The {shown} costliest of the {total:,} confusions the markdown and HTML reports list are shown."


CUT_TABLES = {"per_class": _per_class_cut_note, "confusions": _confusions_cut_note}
"""Tables ordered worst or costliest first: a slide shows the rows that fit and says so.
Every other table is split over as many slides as it needs."""


def verdict_blocks(verdict: Verdict) -> list[Block]:
    """The verdict's lead, one bullet per reason (with a text mark) and its notes, as slide blocks."""
    blocks = [Block(verdict.lead, "strong")] if verdict.lead else []
    for reason in verdict.reasons:
        mark = SLIDE_MARK[reason.status]
        blocks.append(Block(f"{mark} {reason.rule}: {reason.text}", "bullet",
                            f"{mark} **{md_escape(reason.rule)}**: {md_escape(reason.text)}"))
    blocks += [Block(note) for note in verdict.notes]
    return blocks


def deck_slides(f: Figures, tables: list[Table], verdict: Verdict) -> list[Slide]:
    """Every slide of the deck, in order."""
    header = [Block(line.replace("`", ""), markdown=line) for line in header_lines(f) if line]
    slides = text_slides(f"{f.summary.spec_name}: teacher vs fine-tuned student", header)
    slides += text_slides(f"Verdict: {verdict.headline}", verdict_blocks(verdict))
    for table in tables:
        cut_note = CUT_TABLES.get(table.key)
        if cut_note is None:
            slides += table_slides(table)
        else:
            slides += table_slides(table, long_table="cut", cut_note=cut_note)
    return slides


def render_marp(f: Figures, tables: list[Table], verdict: Verdict) -> str:
    """The slide deck as Marp markdown (slides separated by ``---``)."""
    return deck_markdown(FRONT_MATTER, deck_slides(f, tables, verdict))
