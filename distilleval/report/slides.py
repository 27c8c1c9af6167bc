"""Slides that fit a 16:9 page: text and tables packed into Marp slides by estimated height.

A Marp slide is a fixed 1280×720 page; whatever runs past its bottom is cut off without a
word. So every slide is laid out here before it is written: each block's height is estimated
from the deck's own style (``DECK_STYLE``, whose sizes are the constants below) and a
conservative text-width estimate (``text_width``), and

- a long table is either split over several slides, its header repeated (``long_table="split"``),
  or cut to the first rows that fit, with a note saying how many of how many are shown and
  where the rest is (``long_table="cut"``, for tables ordered worst or costliest first);
- a table's notes stay under it when they fit, and otherwise move to a notes slide right after
  it, with a line on the table's slide saying so;
- text (the verdict, the run's header) continues on a further slide when it does not fit;
- a chart (an inline SVG) is a slide of its own, scaled to the room under its title.

Any table a report adds reaches the deck through ``table_slides``; tests render whole decks
with Marp's own CLI and measure every slide in headless Chromium.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import Literal

from distilleval.report.markdown import md_escape, table_markdown
from distilleval.report.tables import Table
from distilleval.report.text_width import text_width_px, wrap_text

PAGE_WIDTH_PX, PAGE_HEIGHT_PX = 1280, 720
PAD_TOP_PX, PAD_SIDE_PX, PAD_BOTTOM_PX = 40, 60, 64  # the page number sits in the bottom padding
CONTENT_WIDTH_PX = PAGE_WIDTH_PX - 2 * PAD_SIDE_PX
CONTENT_HEIGHT_PX = PAGE_HEIGHT_PX - PAD_TOP_PX - PAD_BOTTOM_PX
BODY_PX, BODY_LINE = 22, 1.35
HEADING_PX, HEADING_LINE, HEADING_EXTRA_PX = 30, 1.2, 6 + 1 + 12  # padding-bottom, rule, margin-bottom
BLOCK_GAP_PX = 10  # margin below a paragraph, a list, a table and the notes
BULLET_INDENT_PX, BULLET_GAP_PX = 33, 4
TABLE_PX, TABLE_LINE, CELL_PAD_X_PX, CELL_PAD_Y_PX = 17, 1.3, 8, 3
CELL_PAD_TOTAL_PX = 2 * CELL_PAD_X_PX + 1  # both paddings and one border
NOTE_PX, NOTE_LINE, NOTE_GAP_PX, NOTE_INDENT_PX = 15, 1.3, 4, 15 + 4 + 15  # blockquote padding and rule
KEEP_NOTES_ROWS = 3  # a cut table shows up to this many rows fewer to keep its notes on its slide

DECK_STYLE = f"""section {{ font-size: {BODY_PX}px; line-height: {BODY_LINE}; padding: {PAD_TOP_PX}px {PAD_SIDE_PX}px {PAD_BOTTOM_PX}px; }}
  section h1 {{ font-size: {HEADING_PX}px; line-height: {HEADING_LINE}; margin: 0 0 12px; padding-bottom: 6px; }}
  section p, section ul, section table {{ margin: 0 0 {BLOCK_GAP_PX}px; }}
  section ul {{ padding-left: {BULLET_INDENT_PX}px; }}
  section li + li {{ margin-top: {BULLET_GAP_PX}px; }}
  section table {{ font-size: {TABLE_PX}px; line-height: {TABLE_LINE}; }}
  section table th, section table td {{ padding: {CELL_PAD_Y_PX}px {CELL_PAD_X_PX}px; }}
  section blockquote {{ font-size: {NOTE_PX}px; line-height: {NOTE_LINE}; color: #555; margin: 0 0 {BLOCK_GAP_PX}px; }}
  section blockquote p {{ margin: 0 0 {NOTE_GAP_PX}px; }}"""

BlockKind = Literal["paragraph", "strong", "bullet", "note"]


@dataclass(frozen=True)
class Block:
    """One paragraph, bullet or note of a text slide.

    Attributes:
        text: what a reader sees (measured for the layout).
        markdown: what is written to the slide; default: ``text`` escaped.
        kind: ``paragraph``; ``strong`` (a bold paragraph); ``bullet`` (consecutive bullets form
            one list); ``note`` (small print; consecutive notes form one block quote).
    """

    text: str
    kind: BlockKind = "paragraph"
    markdown: str = ""

    def source(self) -> str:
        """The block's markdown."""
        if self.markdown:
            return self.markdown
        escaped = _escape_block_start(md_escape(self.text))
        return f"**{escaped}**" if self.kind == "strong" else escaped


@dataclass
class Slide:
    """One slide: a heading and its markdown blocks, in order."""

    title: str
    body: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        """The slide as Marp markdown (without the ``---`` separators)."""
        return "\n\n".join([f"# {md_escape(self.title)}", *self.body])


def _escape_block_start(text: str) -> str:
    """Keep a paragraph a paragraph: a leading ``#``, ``-``, ``+``, ``>`` or ``1.`` would start another block."""
    head = text.lstrip()
    number = head.split(".", 1)[0] if "." in head else ""
    if head[:1] in "#-+>" or (number.isdigit() and head[len(number):len(number) + 1] == "."):
        offset = len(text) - len(head) + (len(number) if number.isdigit() else 0)
        return text[:offset] + "\\" + text[offset:]
    return text


def _lines(text: str, width_px: float, size_px: float, *, bold: bool = False) -> int:
    return len(wrap_text(text, width_px, size_px, bold=bold))


def heading_height(title: str) -> float:
    """Height of a slide heading, wrapped to the page."""
    return _lines(title, CONTENT_WIDTH_PX, HEADING_PX, bold=True) * HEADING_PX * HEADING_LINE + HEADING_EXTRA_PX


def _group_height(kind: BlockKind, texts: Sequence[str]) -> float:
    if kind == "note":
        width = CONTENT_WIDTH_PX - NOTE_INDENT_PX
        return sum(_lines(t, width, NOTE_PX) * NOTE_PX * NOTE_LINE + NOTE_GAP_PX for t in texts) + BLOCK_GAP_PX
    if kind == "bullet":
        width = CONTENT_WIDTH_PX - BULLET_INDENT_PX
        return (sum(_lines(t, width, BODY_PX) * BODY_PX * BODY_LINE for t in texts)
                + BULLET_GAP_PX * (len(texts) - 1) + BLOCK_GAP_PX)
    bold = kind == "strong"
    return sum(_lines(t, CONTENT_WIDTH_PX, BODY_PX, bold=bold) * BODY_PX * BODY_LINE + BLOCK_GAP_PX for t in texts)


def _groups(blocks: Sequence[Block]) -> list[tuple[BlockKind, list[Block]]]:
    groups: list[tuple[BlockKind, list[Block]]] = []
    for block in blocks:
        joins = block.kind in ("bullet", "note")
        if groups and joins and groups[-1][0] == block.kind:
            groups[-1][1].append(block)
        else:
            groups.append((block.kind, [block]))
    return groups


def blocks_height(blocks: Sequence[Block]) -> float:
    """Estimated height of ``blocks`` laid out one after another."""
    return sum(_group_height(kind, [b.text for b in group]) for kind, group in _groups(blocks))


def blocks_markdown(blocks: Sequence[Block]) -> list[str]:
    """``blocks`` as markdown, one string per list, block quote or paragraph."""
    out = []
    for kind, group in _groups(blocks):
        if kind == "bullet":
            out.append("\n".join(f"- {b.source()}" for b in group))
        elif kind == "note":
            out.append("\n>\n".join(f"> {b.source()}" for b in group))
        else:
            out.extend(b.source() for b in group)
    return out


def text_slides(title: str, blocks: Sequence[Block]) -> list[Slide]:
    """``blocks`` under ``title``, continued on further slides ("title (continued)") as needed.

    A single block taller than a whole page still gets a slide of its own.
    """
    pages: list[list[Block]] = [[]]
    for block in blocks:
        page_title = title if len(pages) == 1 else f"{title} (continued)"
        if pages[-1] and heading_height(page_title) + blocks_height([*pages[-1], block]) > CONTENT_HEIGHT_PX:
            pages.append([])
        pages[-1].append(block)
    return [Slide(title if n == 0 else f"{title} (continued)", blocks_markdown(page)) for n, page in enumerate(pages)]


# --- tables ------------------------------------------------------------------------------------

def _column_widths(table: Table) -> list[float]:
    """Column widths as a browser's automatic table layout would give them (estimated)."""
    header = [(c, True) for c in table.columns]
    cells = [header, *[[(cell.text, False) for cell in row] for row in table.rows]]
    widest = [max(text_width_px(row[i][0], TABLE_PX, bold=row[i][1]) for row in cells) + CELL_PAD_TOTAL_PX
              for i in range(len(table.columns))]
    longest_word = [max((text_width_px(w, TABLE_PX, bold=row[i][1]) for row in cells for w in row[i][0].split()), default=0.0)
                    + CELL_PAD_TOTAL_PX for i in range(len(table.columns))]
    if sum(widest) <= CONTENT_WIDTH_PX or sum(longest_word) >= CONTENT_WIDTH_PX:
        return widest if sum(widest) <= CONTENT_WIDTH_PX else longest_word
    room, flex = CONTENT_WIDTH_PX - sum(longest_word), [w - m for w, m in zip(widest, longest_word)]
    return [m + room * f / sum(flex) for m, f in zip(longest_word, flex)]


def table_height(table: Table) -> float:
    """Estimated height of ``table`` (header and every row), without its notes."""
    widths = _column_widths(table)
    line = TABLE_PX * TABLE_LINE

    def row_height(texts: Sequence[str], bold: bool) -> float:
        lines = max(_lines(t, w - CELL_PAD_TOTAL_PX, TABLE_PX, bold=bold) for t, w in zip(texts, widths))
        return lines * line + 2 * CELL_PAD_Y_PX + 1

    return (row_height(table.columns, True) + sum(row_height([c.text for c in row], False) for row in table.rows)
            + 1 + BLOCK_GAP_PX)


def _table_block(table: Table) -> str:
    return table_markdown(replace(table, notes=[]))


def _notes(texts: Sequence[str]) -> list[Block]:
    return [Block(t, "note") for t in texts]


def default_cut_note(shown: int, total: int) -> str:
    """The note under a table cut to fit: how many rows of how many, and where the rest is."""
    return f"The first {shown} of {total:,} rows are shown; the markdown and HTML reports have the whole table."


def table_slides(table: Table, *, long_table: Literal["split", "cut"] = "split",
                 cut_note: Callable[[int, int], str] = default_cut_note) -> list[Slide]:
    """``table`` as slides that fit the page.

    Args:
        table: the table; its title heads each slide and its notes follow it.
        long_table: ``split``: rows that do not fit continue on further slides ("title (2/3)"),
            the header repeated; ``cut``: only the first rows that fit are shown (for tables
            ordered worst or costliest first), with ``cut_note(shown, total)`` beneath.
        cut_note: the sentence under a cut table.

    Returns:
        The table's slides, then a notes slide when its notes do not fit under it.
    """
    total = len(table.rows)
    budget = CONTENT_HEIGHT_PX - heading_height(table.title + (" (99/99)" if long_table == "split" else ""))
    pointer = Block("Notes on this table: next slide.", "note")

    def page_height(rows: list, footer: Sequence[Block]) -> float:
        return table_height(replace(table, rows=rows, notes=[])) + blocks_height(footer)

    def rows_that_fit(start: int, footer: Callable[[int], Sequence[Block]]) -> int:
        end = start + 1  # one row at least, even if it alone is taller than a page
        while end < total and page_height(table.rows[start:end + 1], footer(end + 1 - start)) <= budget:
            end += 1
        return end

    notes = _notes(table.notes)
    if long_table == "cut":
        shown = rows_that_fit(0, lambda n: [Block(cut_note(n, total), "note"), pointer]) if total else 0
        with_notes = rows_that_fit(0, lambda n: [Block(cut_note(n, total), "note"), *notes]) if total else 0
        if with_notes >= shown - KEEP_NOTES_ROWS:  # a few rows fewer keep the notes beside their table
            shown = with_notes
        pages = [table.rows[:shown]]
        fixed = [Block(cut_note(shown, total), "note")] if shown < total else []
    else:
        pages, start = [], 0
        while start < total:

            def pointer_on_last(n: int, first: int = start) -> list[Block]:
                return [pointer] if first + n >= total else []

            end = rows_that_fit(start, pointer_on_last)
            pages.append(table.rows[start:end])
            start = end
        pages, fixed = pages or [[]], []
    inline = page_height(pages[-1], [*fixed, *notes]) <= budget
    footer = [*fixed, *notes] if inline else [*fixed, pointer] if notes else fixed
    slides = []
    for n, rows in enumerate(pages):
        title = table.title if len(pages) == 1 else f"{table.title} ({n + 1}/{len(pages)})"
        body = [_table_block(replace(table, rows=rows))]
        if n == len(pages) - 1:
            body += blocks_markdown(footer)
        slides.append(Slide(title, body))
    if not inline and notes:
        slides += text_slides(f"Notes: {table.title}", notes)
    return slides


IMAGE_LINE_SLACK_PX = 12  # an image sits on a text line: room for the line's descent below it


def chart_slide(title: str, svg: str, *, notes: Sequence[str] = ()) -> list[Slide]:
    """An inline SVG chart as a slide of its own, scaled to fit under its title (and its notes,
    which move to a notes slide when they would leave the chart less than half the page).

    The chart is an ``<img>`` with the SVG as a ``data:`` URI: Marp's default HTML allowlist
    keeps it (a markdown image may not use an SVG data URI), and it needs no network.
    """
    found = re.search(r'<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"', svg)
    if found is None:
        raise ValueError("chart_slide needs an <svg> with width and height attributes")
    width, height = float(found.group(1)), float(found.group(2))
    note_blocks = _notes(notes)
    room = CONTENT_HEIGHT_PX - heading_height(title) - IMAGE_LINE_SLACK_PX - BLOCK_GAP_PX
    moved = bool(note_blocks) and room - blocks_height(note_blocks) < CONTENT_HEIGHT_PX / 2
    if note_blocks and not moved:
        room -= blocks_height(note_blocks)
    elif moved:
        room -= blocks_height([Block("Notes on this chart: next slide.", "note")])
    scale = min(CONTENT_WIDTH_PX / width, room / height)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    image = (f'<img src="data:image/svg+xml;base64,{data}" width="{int(width * scale)}" height="{int(height * scale)}" '
             f'alt="{escape(title)}">')
    footer = [Block("Notes on this chart: next slide.", "note")] if moved else note_blocks
    slides = [Slide(title, [image, *blocks_markdown(footer)])]
    return slides + (text_slides(f"Notes: {title}", note_blocks) if moved else [])


def deck_markdown(front_matter: str, slides: Sequence[Slide]) -> str:
    """A Marp deck: the front matter, then the slides separated by ``---``."""
    return front_matter + "\n\n" + "\n\n---\n\n".join(s.markdown() for s in slides) + "\n"
