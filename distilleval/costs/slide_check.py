"""Check a slide's cost table against the figures computed from one source.

A team pastes the markdown table from its deck (the shape ``distilleval cost SPEC… --format md``
prints). Rows are matched by use case, columns by header; every cell is compared with the
computed figure. A number on the slide agrees when it is the computed figure rounded to the
precision the slide shows ("$0.0012" agrees with 0.0011795, "$0.000641" does not); text cells
(teacher, student, basis) agree when equal ignoring case and spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from distilleval.costs.use_case_table import UseCaseTable, use_case_cells, use_case_headers, use_case_values
from distilleval.errors import DataError

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}
_NUMBER = re.compile(r"^(?P<sign>[-−]?)\$?(?P<digits>[0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)\s*(?P<suffix>[kmb]?)\s*[x×]?$")


@dataclass(frozen=True)
class SlideTable:
    """A markdown table read from a file: headers, rows, and each row's line number (1-based)."""

    headers: list[str]
    rows: list[list[str]]
    lines: list[int]


@dataclass(frozen=True)
class CellDifference:
    """A slide cell that disagrees with the computed figure."""

    line: int
    use_case: str
    column: str
    slide: str
    computed: str
    slide_value: float | None = None
    computed_value: float | None = None

    def describe(self, path: str | Path) -> str:
        """``SLIDE.md:LINE: use case / column: slide X, computed Y (difference)``."""
        text = f"{path}:{self.line}: {self.use_case} / {self.column}: slide {self.slide}, computed {self.computed}"
        if self.slide_value is not None and self.computed_value is not None:
            delta = self.slide_value - self.computed_value
            text += f" (slide {'+' if delta >= 0 else '-'}{abs(delta):.6g}"
            if self.computed_value:
                text += f", {delta / self.computed_value:+.1%}"
            text += ")"
        return text


@dataclass
class SlideCheck:
    """Everything ``--check`` found."""

    differences: list[CellDifference]
    cells_checked: int
    unchecked_columns: list[str]
    unknown_rows: list[tuple[int, str]]
    rows_not_on_slide: list[str]


def read_markdown_table(path: Path) -> SlideTable:
    """The first markdown table in ``path`` (header row, ``|---|`` rule, body rows).

    Raises:
        DataError: unreadable file, or no table in it (one line naming the file).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the slide ({err})") from None
    lines = text.splitlines()
    for index in range(len(lines) - 1):
        if _is_row(lines[index]) and _is_rule(lines[index + 1]):
            headers = _cells(lines[index])
            rows, numbers = [], []
            for number in range(index + 2, len(lines)):
                if not _is_row(lines[number]):
                    break
                rows.append(_cells(lines[number]))
                numbers.append(number + 1)
            return SlideTable(headers, rows, numbers)
    raise DataError(f"{path}:1: no markdown table found (expected a header row followed by |---|)")


def _is_row(line: str) -> bool:
    return line.strip().startswith("|")


def _is_rule(line: str) -> bool:
    return _is_row(line) and set(line.strip()) <= set("|-: ")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def normalize_text(text: str) -> str:
    """Lower case, markdown emphasis and backticks dropped, spacing collapsed."""
    return " ".join(text.replace("*", "").replace("`", "").lower().split())


def _use_case_key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", normalize_text(text))


def parse_figure(cell: str) -> tuple[float, float] | None:
    """A slide number and half a unit of its last shown digit: ``"$35K"`` -> ``(35000.0, 500.0)``.

    Accepts ``$``, thousands commas, ``K``/``M``/``B`` suffixes and a trailing ``x`` or ``×``;
    returns None for text.
    """
    match = _NUMBER.match(normalize_text(cell))
    if match is None:
        return None
    digits = match["digits"].replace(",", "")
    scale = _SUFFIX[match["suffix"]]
    decimals = len(digits.partition(".")[2])
    value = float(digits) * scale * (-1 if match["sign"] else 1)
    return value, 0.5 * 10 ** (-decimals) * scale


def check_slide(table: UseCaseTable, slide: SlideTable) -> SlideCheck:
    """Compare every cell of ``slide`` with ``table``'s figure for the same use case and column."""
    computed_headers = {normalize_text(header): i for i, header in enumerate(use_case_headers(table))}
    columns = [computed_headers.get(normalize_text(header)) for header in slide.headers]
    rows = {_use_case_key(row.use_case): row for row in table.rows}
    unchecked = [header for position, (header, column) in enumerate(zip(slide.headers, columns)) if column is None and position]
    result = SlideCheck([], 0, unchecked, [], [])
    seen = set()
    for line, cells in zip(slide.lines, slide.rows):
        row = rows.get(_use_case_key(cells[0])) if cells else None
        if row is None:
            result.unknown_rows.append((line, cells[0] if cells else ""))
            continue
        seen.add(row.use_case)
        shown = use_case_cells(row, table.volumes_per_day)
        exact = use_case_values(row, table.volumes_per_day)
        for position, (header, column) in enumerate(zip(slide.headers, columns)):
            if column is None or column == 0 or position >= len(cells):
                continue
            result.cells_checked += 1
            difference = _compare(cells[position], shown[column], exact[column], row, column)
            if difference is not None:
                slide_value, computed_value = difference
                result.differences.append(
                    CellDifference(line, row.use_case, header, cells[position], shown[column], slide_value, computed_value)
                )
    result.rows_not_on_slide = [row.use_case for row in table.rows if row.use_case not in seen]
    return result


def _compare(cell: str, shown: str, exact: float | str, row, column: int):
    """None when the slide agrees; else (slide value, computed value), both None for text cells."""
    if isinstance(exact, str):
        accepted = {normalize_text(exact)}
        if column == 1:
            accepted.add(normalize_text(row.teacher_model))
        if column == 2:
            accepted.add(normalize_text(row.student_model))
        return None if normalize_text(cell) in accepted else (None, None)
    figure = parse_figure(cell)
    if figure is None:
        return (None, exact)
    value, half_unit = figure
    if abs(value - exact) <= half_unit * (1 + 1e-9):
        return None
    return value, exact
