"""Check a slide's cost table against the figures computed from its sources.

A team pastes the markdown table from its deck: the per-use-case table ``distilleval cost SPEC
SPEC… --format md`` prints (rows matched by use case), or the cost table one ``distilleval cost
SPEC`` (or ``cost RUN``) prints (rows matched by model). Columns are matched by header; every cell is compared with the
computed figure. A number on the slide agrees when it is the computed figure rounded to the
precision the slide shows ("$0.0012" agrees with 0.0011795, "$0.000641" does not); text cells
(teacher, student, basis) agree when equal ignoring case and spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from distilleval.costs.tables import CostTable, cost_table_cells, cost_table_headers, cost_table_values
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


@dataclass(frozen=True)
class ComputedRow:
    """One computed row a slide row is checked against.

    Attributes:
        name: the row's name (its first cell); slide rows are matched on it.
        shown: the cells as the table prints them.
        exact: the same cells unrounded (floats), or text.
        also_accepted: column -> other texts that agree (e.g. a model id beside its display name).
    """

    name: str
    shown: list[str]
    exact: list[float | str]
    also_accepted: dict[int, set[str]]


def check_table(headers: list[str], computed: list[ComputedRow], slide: SlideTable) -> SlideCheck:
    """Compare every cell of ``slide`` with the computed row of the same name and the column of the same header."""
    computed_headers = {normalize_text(header): i for i, header in enumerate(headers)}
    columns = [computed_headers.get(normalize_text(header)) for header in slide.headers]
    rows: dict[str, ComputedRow] = {}
    for computed_row in computed:
        for name in {computed_row.name, *computed_row.also_accepted.get(0, set())}:
            rows.setdefault(_use_case_key(name), computed_row)
    unchecked = [header for position, (header, column) in enumerate(zip(slide.headers, columns)) if column is None and position]
    result = SlideCheck([], 0, unchecked, [], [])
    seen = set()
    for line, cells in zip(slide.lines, slide.rows):
        row = rows.get(_use_case_key(cells[0])) if cells else None
        if row is None:
            result.unknown_rows.append((line, cells[0] if cells else ""))
            continue
        seen.add(row.name)
        for position, (header, column) in enumerate(zip(slide.headers, columns)):
            if column is None or column == 0 or position >= len(cells):
                continue
            result.cells_checked += 1
            difference = _compare(cells[position], row.exact[column], row.also_accepted.get(column, set()))
            if difference is not None:
                slide_value, computed_value = difference
                result.differences.append(
                    CellDifference(line, row.name, header, cells[position], row.shown[column], slide_value, computed_value)
                )
    result.rows_not_on_slide = [row.name for row in computed if row.name not in seen]
    return result


def check_slide(table: UseCaseTable, slide: SlideTable) -> SlideCheck:
    """Compare every cell of ``slide`` with ``table``'s figure for the same use case and column."""
    computed = [
        ComputedRow(row.use_case, use_case_cells(row, table.volumes_per_day), use_case_values(row, table.volumes_per_day),
                    {1: {row.teacher_model}, 2: {row.student_model}})
        for row in table.rows
    ]
    return check_table(use_case_headers(table), computed, slide)


def check_cost_slide(table: CostTable, slide: SlideTable) -> SlideCheck:
    """Compare ``slide`` with one source's cost table (what ``cost SPEC`` or ``cost RUN`` prints): rows by model."""
    computed = [
        ComputedRow(row.label, shown, exact, {0: {row.model}})
        for row, shown, exact in zip(table.rows, cost_table_cells(table), cost_table_values(table))
    ]
    return check_table(cost_table_headers(table), computed, slide)


def is_use_case_slide(slide: SlideTable) -> bool:
    """Whether ``slide``'s table is the per-use-case table (its first column is the use case) rather than a cost table."""
    return bool(slide.headers) and normalize_text(slide.headers[0]) == "use case"


def _compare(cell: str, exact: float | str, also_accepted: set[str]) -> tuple[float | None, float | None] | None:
    """None when the slide agrees; else (slide value, computed value), both None for text cells."""
    if isinstance(exact, str):
        accepted = {normalize_text(exact), *(normalize_text(text) for text in also_accepted)}
        return None if normalize_text(cell) in accepted else (None, None)
    figure = parse_figure(cell)
    if figure is None:
        return (None, exact)
    value, half_unit = figure
    if abs(value - exact) <= half_unit * (1 + 1e-9):
        return None
    return value, exact
