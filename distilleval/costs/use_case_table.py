"""The cross-use-case cost table: one row per use case, teacher against student.

It is the table a deck shows for a whole programme ("Cost Summary — All Use Cases" and
"Monthly Cost at 100K req/day" side by side): each row names its teacher and student, their
cost per request, how many times cheaper the student is, and per chosen volume what each costs
a month and what moving saves. Every figure says whether it was projected from a spec's
rendered prompts or measured in a run. ``build_use_case_table`` keeps full precision;
``render_use_case_table`` rounds for display only (md, marp, csv, json, latex).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from distilleval.costs import cost_model
from distilleval.costs.tables import MARP_FRONT_MATTER, PricedModel, format_ratio, format_volume


@dataclass(frozen=True)
class UseCase:
    """What one row is computed from: the teacher and student priced, and the table that priced them.

    ``stale`` lists (model label, as_of) of prices that were already old when they were used.
    """

    name: str
    teacher: PricedModel
    student: PricedModel
    pricing_label: str
    source: str = ""
    stale: tuple[tuple[str, dt.date], ...] = ()


@dataclass
class UseCaseRow:
    """One use case; every figure in USD, unrounded."""

    use_case: str
    teacher_model: str
    teacher_label: str
    student_model: str
    student_label: str
    teacher_per_request_usd: float
    student_per_request_usd: float
    savings_ratio: float
    teacher_per_month_usd: dict[int, float]
    student_per_month_usd: dict[int, float]
    saving_per_month_usd: dict[int, float]
    teacher_basis: str
    student_basis: str
    pricing_label: str
    source: str = ""

    @property
    def basis(self) -> str:
        """One word when both figures share a basis, else both named."""
        if self.teacher_basis == self.student_basis:
            return self.teacher_basis
        return f"teacher {self.teacher_basis}, student {self.student_basis}"


@dataclass
class UseCaseTable:
    """All rows, the volumes they were priced at, and the pricing tables behind them."""

    rows: list[UseCaseRow]
    volumes_per_day: list[int]
    days_per_month: float
    pricing_labels: list[str]
    notes: list[str] = field(default_factory=list)


def build_use_case_table(
    cases: list[UseCase], *, volumes_per_day: list[int], days_per_month: float = 30.0, max_price_age_days: int = 180
) -> UseCaseTable:
    """Cost every use case's teacher and student at every volume.

    Args:
        cases: one per row, in the order the rows appear.
        volumes_per_day: request volumes for the monthly columns (the same for every row).
        days_per_month: days in a month.
        max_price_age_days: the age the cases' ``stale`` prices passed, named in the note that lists them.
    """
    rows = []
    for case in cases:
        teacher_cost, student_cost = case.teacher.cost_per_request_usd, case.student.cost_per_request_usd
        teacher_month = {v: cost_model.monthly_cost_usd(teacher_cost, v, days_per_month) for v in volumes_per_day}
        student_month = {v: cost_model.monthly_cost_usd(student_cost, v, days_per_month) for v in volumes_per_day}
        rows.append(
            UseCaseRow(
                use_case=case.name,
                teacher_model=case.teacher.model,
                teacher_label=case.teacher.label,
                student_model=case.student.model,
                student_label=case.student.label,
                teacher_per_request_usd=teacher_cost,
                student_per_request_usd=student_cost,
                savings_ratio=cost_model.savings_ratio(teacher_cost, student_cost),
                teacher_per_month_usd=teacher_month,
                student_per_month_usd=student_month,
                saving_per_month_usd={v: teacher_month[v] - student_month[v] for v in volumes_per_day},
                teacher_basis=case.teacher.basis,
                student_basis=case.student.basis,
                pricing_label=case.pricing_label,
                source=case.source,
            )
        )
    labels = list(dict.fromkeys(case.pricing_label for case in cases))
    table = UseCaseTable(rows, list(volumes_per_day), days_per_month, labels)
    by_date: dict[dt.date, list[str]] = {}
    for case in cases:
        for label, as_of in case.stale:
            if label not in by_date.setdefault(as_of, []):
                by_date[as_of].append(label)
    if by_date:
        listed = "; ".join(f"{', '.join(labels)} (as of {as_of.isoformat()})" for as_of, labels in sorted(by_date.items()))
        table.notes.append(
            f"Stale prices, read over {max_price_age_days} days before they were used: {listed}; check current prices."
        )
    return table


def use_case_headers(table: UseCaseTable) -> list[str]:
    """Column headers of the md / marp / latex table (``--check`` matches a slide's against these)."""
    headers = ["Use case", "Teacher", "Student", "Teacher $/request", "Student $/request", "Savings"]
    for volume in table.volumes_per_day:
        at = f"@ {format_volume(volume)}/day"
        headers += [f"Teacher / month {at}", f"Student / month {at}", f"Saving / month {at}"]
    return headers + ["Basis"]


def use_case_cells(row: UseCaseRow, volumes_per_day: list[int]) -> list[str]:
    """One row's display cells, in the order of ``use_case_headers``."""
    cells = [
        row.use_case,
        row.teacher_label,
        row.student_label,
        cost_model.format_usd(row.teacher_per_request_usd),
        cost_model.format_usd(row.student_per_request_usd),
        format_ratio(row.savings_ratio),
    ]
    for volume in volumes_per_day:
        cells += [
            cost_model.format_usd(row.teacher_per_month_usd[volume]),
            cost_model.format_usd(row.student_per_month_usd[volume]),
            cost_model.format_usd(row.saving_per_month_usd[volume]),
        ]
    return cells + [row.basis]


def use_case_values(row: UseCaseRow, volumes_per_day: list[int]) -> list[float | str]:
    """The same cells unrounded (numbers as floats), for checking a slide against them."""
    values: list[float | str] = [
        row.use_case,
        row.teacher_label,
        row.student_label,
        row.teacher_per_request_usd,
        row.student_per_request_usd,
        row.savings_ratio,
    ]
    for volume in volumes_per_day:
        values += [row.teacher_per_month_usd[volume], row.student_per_month_usd[volume], row.saving_per_month_usd[volume]]
    return values + [row.basis]


def table_note(table: UseCaseTable) -> str:
    """The line under the table: which pricing table(s), the month, and that display rounds."""
    prices = "; ".join(table.pricing_labels)
    return "\n\n".join([*table.notes, f"Prices: {prices}; {table.days_per_month:g}-day month; rounded for display only."])


def render_use_case_table(table: UseCaseTable, fmt: str = "md") -> str:
    """Render ``table`` as ``md``, ``marp``, ``csv``, ``json`` or ``latex``.

    csv and json carry the unrounded numbers and both bases; md, marp and latex round for display.
    """
    if fmt == "json":
        return json.dumps(_as_json(table), indent=2) + "\n"
    if fmt == "csv":
        return _as_csv(table)
    from tabulate import tabulate

    tablefmt = "latex_booktabs" if fmt == "latex" else "github"
    rows = [use_case_cells(row, table.volumes_per_day) for row in table.rows]
    body = tabulate(rows, headers=use_case_headers(table), tablefmt=tablefmt, disable_numparse=True)
    note = table_note(table)
    if fmt == "latex":
        return body + "\n\n" + note.replace("%", r"\%") + "\n"
    if fmt == "marp":
        emphasised = "\n\n".join(f"*{line}*" for line in note.split("\n\n"))
        return f"{MARP_FRONT_MATTER}\n# Cost across use cases\n\n{body}\n\n{emphasised}\n"
    return body + "\n\n" + note + "\n"


def _volume_keys(values: dict[int, float]) -> dict[str, float]:
    return {str(volume): value for volume, value in values.items()}


def _as_json(table: UseCaseTable) -> dict[str, Any]:
    data = asdict(table)
    for row, source in zip(data["rows"], table.rows):
        for key in ("teacher_per_month_usd", "student_per_month_usd", "saving_per_month_usd"):
            row[key] = _volume_keys(row[key])
        if row["savings_ratio"] == float("inf"):
            row["savings_ratio"] = None
        row["basis"] = source.basis
    return data


def _as_csv(table: UseCaseTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    volumes = table.volumes_per_day
    writer.writerow(
        ["use_case", "teacher_model", "teacher_label", "student_model", "student_label",
         "teacher_per_request_usd", "student_per_request_usd", "savings_ratio"]
        + [f"{who}_per_month_usd_{v}" for v in volumes for who in ("teacher", "student", "saving")]
        + ["teacher_basis", "student_basis", "pricing", "source"]
    )
    for row in table.rows:
        monthly = [
            repr(values[v])
            for v in volumes
            for values in (row.teacher_per_month_usd, row.student_per_month_usd, row.saving_per_month_usd)
        ]
        writer.writerow(
            [row.use_case, row.teacher_model, row.teacher_label, row.student_model, row.student_label,
             repr(row.teacher_per_request_usd), repr(row.student_per_request_usd), repr(row.savings_ratio)]
            + monthly
            + [row.teacher_basis, row.student_basis, row.pricing_label, row.source]
        )
    return buffer.getvalue()
