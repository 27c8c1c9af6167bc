"""Slide packing: long tables split or cut with a note, notes moved when they do not fit, text continued.

Whether the slides really fit is checked in headless Chromium (tests/report/test_marp.py);
these tests pin the packing rules on tables of known size.
"""

from __future__ import annotations

import base64
import re

import pytest

from distilleval.report.slides import (
    CONTENT_HEIGHT_PX,
    CONTENT_WIDTH_PX,
    Block,
    blocks_height,
    chart_slide,
    heading_height,
    table_height,
    table_slides,
    text_slides,
)
from distilleval.report.tables import Cell, Table


def numbered(n: int, notes: list[str] | None = None) -> Table:
    return Table("t", "A table", ["Row", "Value"], rows=[[Cell(f"row {i:03d}"), Cell(f"{i}")] for i in range(n)],
                 notes=notes or [])


def slide_rows(slide) -> list[str]:
    return [line.split("|")[1].strip() for line in slide.body[0].splitlines()[2:]]


def test_a_short_table_is_one_slide_with_its_notes_beneath():
    slides = table_slides(numbered(3, ["Measured in run r."]))
    assert len(slides) == 1 and slides[0].title == "A table"
    assert slide_rows(slides[0]) == ["row 000", "row 001", "row 002"]
    assert slides[0].body[1] == "> Measured in run r."


def test_a_long_table_splits_with_its_header_on_every_slide_and_loses_no_row():
    slides = table_slides(numbered(60))
    assert len(slides) >= 3
    assert [s.title for s in slides] == [f"A table ({n}/{len(slides)})" for n in range(1, len(slides) + 1)]
    assert all(s.body[0].startswith("| Row | Value |") for s in slides)
    assert [row for s in slides for row in slide_rows(s)] == [f"row {i:03d}" for i in range(60)]
    for s in slides:  # every part fits by the estimate, and a part is not left half empty
        part = numbered(0)
        part.rows = [[Cell(r), Cell("0")] for r in slide_rows(s)]
        assert heading_height(s.title) + table_height(part) <= CONTENT_HEIGHT_PX
    assert len(slide_rows(slides[0])) >= 15


def test_a_cut_table_keeps_the_first_rows_and_says_how_many_of_how_many():
    slides = table_slides(numbered(77), long_table="cut", cut_note=lambda shown, total: f"The {shown} worst of {total}.")
    assert len(slides) == 1
    shown = slide_rows(slides[0])
    assert shown == [f"row {i:03d}" for i in range(len(shown))] and 10 <= len(shown) < 77
    assert slides[0].body[1] == f"> The {len(shown)} worst of 77."


def test_notes_that_do_not_fit_move_to_a_notes_slide_and_the_table_says_so():
    long_notes = [f"Note {n}: " + "a basis sentence that a reader needs but that takes room. " * 6 for n in range(8)]
    slides = table_slides(numbered(14, long_notes))
    assert slides[0].title == "A table" and slides[0].body[1] == "> Notes on this table: next slide."
    assert slides[1].title == "Notes: A table"
    moved = "\n".join(b for s in slides[1:] for b in s.body)
    assert all(f"Note {n}:" in moved for n in range(8))
    assert all(s.title.startswith("Notes: A table") for s in slides[1:])


def test_text_continues_on_a_further_slide():
    blocks = [Block(f"Reason {n}: " + "words that wrap over the slide's width " * 5, "bullet") for n in range(12)]
    slides = text_slides("Verdict: Fine-tune", blocks)
    assert len(slides) >= 2 and slides[1].title == "Verdict: Fine-tune (continued)"
    assert "\n".join(s.markdown() for s in slides).count("\n- Reason") == 12
    assert all(blocks_height([b]) > 0 for b in blocks)


def test_blocks_render_as_one_list_one_quote_and_escaped_paragraphs():
    slides = text_slides("T", [Block("1. not a list"), Block("a", "bullet"), Block("b", "bullet"),
                               Block("x", "note"), Block("y", "note"), Block("<b>|", "strong")])
    assert slides[0].body == ["1\\. not a list", "- a\n- b", "> x\n>\n> y", "**&lt;b&gt;\\|**"]


def test_a_chart_slide_scales_its_svg_to_the_room_under_its_title():
    svg = '<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 1200" width="720" height="1200"></svg>'
    (slide,) = chart_slide("Per-class F1", svg)
    width, height = (int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', slide.body[0]).groups())
    assert height <= CONTENT_HEIGHT_PX - heading_height("Per-class F1") and width <= CONTENT_WIDTH_PX
    assert abs(width / height - 720 / 1200) < 0.01  # scaled, not stretched
    data = slide.body[0].split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(data).decode() == svg
    wide = chart_slide("t", svg.replace('width="720" height="1200"', 'width="4000" height="100"'))[0].body[0]
    assert 'width="1160"' in wide
    with pytest.raises(ValueError, match="width and height"):
        chart_slide("t", "<svg></svg>")
