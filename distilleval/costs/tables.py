"""The "Cost at Scale" table: per-request, per-day and per-month cost of several models.

``build_cost_table`` computes every cell in full precision from a pricing table and a token
profile per model; ``render_cost_table`` rounds for display only (markdown, marp, csv, json, latex).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from distilleval.costs import cost_model
from distilleval.costs.pricing import PricingTable

Basis = Literal["measured", "projected"]

# A Marp deck of one slide; the table's markdown follows a title.
MARP_FRONT_MATTER = (
    "---\nmarp: true\npaginate: true\nsize: 16:9\nstyle: |\n"
    "  section { font-size: 18px; line-height: 1.3; padding: 36px 40px 60px; }\n"
    "  section h1 { font-size: 28px; margin: 0 0 10px; }\n"
    "  section table { font-size: 14px; line-height: 1.25; }\n"
    "  section table th, section table td { padding: 3px 6px; }\n"
    "  section em { color: #555; font-size: 13px; }\n"
    "---\n"
)
"""Front matter of the cost decks: Marp's default theme at sizes that fit a wide cost table on one 16:9 slide
(tests/report/test_marp.py measures it in headless Chromium)."""


@dataclass(frozen=True)
class TokenProfile:
    """Mean tokens per request for one model in one role."""

    model: str
    input_tokens: float
    output_tokens: float
    cached_input_tokens: float = 0.0
    cache_write_tokens: float = 0.0
    basis: Basis = "projected"
    batch: bool = False
    role: str = ""
    counted_by: str = ""  # the local tokenizer that counted the tokens; "" when a run measured them


@dataclass(frozen=True)
class PricedModel:
    """One role's model and what a request to it costs (USD, unrounded), with the figure's basis."""

    model: str
    label: str
    cost_per_request_usd: float
    basis: str


def price_profile(profile: TokenProfile, pricing: PricingTable) -> PricedModel:
    """Price a token profile with ``pricing`` (cached share and batch tier as the profile says).

    Raises:
        PricingError: the model has no price in ``pricing``.
    """
    price = pricing.price_for(profile.model)
    cost = cost_model.request_cost_usd(
        price,
        profile.input_tokens,
        profile.output_tokens,
        cached_input_tokens=profile.cached_input_tokens,
        cache_write_tokens=profile.cache_write_tokens,
        batch=profile.batch,
    )
    return PricedModel(profile.model, price.display_name + (" (batch)" if profile.batch else ""), cost, profile.basis)


@dataclass
class CostRow:
    """One model's costs; every figure in USD, unrounded."""

    label: str
    model: str
    role: str
    input_tokens: float
    output_tokens: float
    cost_per_request_usd: float
    per_day_usd: dict[int, float]
    per_month_usd: dict[int, float]
    basis: Basis
    savings_vs_student: float | None = None


@dataclass
class BreakEven:
    """When a fine-tuned student pays for itself against one teacher, at each volume."""

    teacher_label: str
    one_time_cost_usd: float
    days_by_volume: dict[int, float | None]


@dataclass
class CostTable:
    """The full table plus what it was computed from."""

    rows: list[CostRow]
    volumes_per_day: list[int]
    days_per_month: float
    pricing_label: str
    student_label: str | None = None
    break_even: list[BreakEven] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def build_cost_table(
    profiles: list[TokenProfile],
    pricing: PricingTable,
    *,
    volumes_per_day: list[int],
    days_per_month: float = 30.0,
    student_model: str | None = None,
    one_time_cost_usd: float | None = None,
) -> CostTable:
    """Price every profile at every volume.

    Args:
        profiles: one token profile per row.
        pricing: where prices come from (a missing model raises ``PricingError``).
        volumes_per_day: request volumes for the per-day and per-month columns.
        days_per_month: 30 unless a flag says otherwise.
        student_model: the row the savings ratio and break-even compare against.
        one_time_cost_usd: labelling + training + engineering; adds break-even per teacher row.
    """
    rows: list[CostRow] = []
    for profile in profiles:
        priced = price_profile(profile, pricing)
        per_request = priced.cost_per_request_usd
        rows.append(
            CostRow(
                label=priced.label,
                model=profile.model,
                role=profile.role,
                input_tokens=profile.input_tokens,
                output_tokens=profile.output_tokens,
                cost_per_request_usd=per_request,
                per_day_usd={v: cost_model.daily_cost_usd(per_request, v) for v in volumes_per_day},
                per_month_usd={v: cost_model.monthly_cost_usd(per_request, v, days_per_month) for v in volumes_per_day},
                basis=profile.basis,
            )
        )
    table = CostTable(rows, list(volumes_per_day), days_per_month, pricing.label)
    student = next((row for row in rows if row.model == student_model), None) if student_model else None
    if student is not None:
        table.student_label = student.label
        for row in rows:
            row.savings_vs_student = cost_model.savings_ratio(row.cost_per_request_usd, student.cost_per_request_usd)
        if one_time_cost_usd is not None:
            for row in rows:
                if row is student:
                    continue
                table.break_even.append(
                    BreakEven(
                        teacher_label=row.label,
                        one_time_cost_usd=one_time_cost_usd,
                        days_by_volume={
                            v: cost_model.break_even_days(
                                one_time_cost_usd, row.per_day_usd[v] - student.per_day_usd[v]
                            )
                            for v in volumes_per_day
                        },
                    )
                )
    return table


def stale_price_note(stale: list[tuple[str, dt.date]], *, max_age_days: int, on: dt.date) -> str | None:
    """The line that flags prices read more than ``max_age_days`` before ``on``; None when none are."""
    if not stale:
        return None
    listed = ", ".join(f"{model} (as of {as_of.isoformat()})" for model, as_of in stale)
    return f"Stale prices, read over {max_age_days} days before {on.isoformat()}: {listed}; check current prices."


def format_volume(volume: int) -> str:
    """1000 -> 1K, 100000 -> 100K, 1000000 -> 1M."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if volume >= size and volume % size == 0:
            return f"{volume // size}{suffix}"
    return f"{volume:,}"


def format_tokens(value: float) -> str:
    """Whole tokens when whole, one decimal otherwise."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def format_ratio(value: float | None) -> str:
    """1322.0 -> '1,322x'; None -> ''."""
    if value is None:
        return ""
    if value == float("inf"):
        return "∞"
    return f"{value:,.0f}x" if value >= 10 else f"{value:,.1f}x"


def format_days(days: float | None) -> str:
    """Break-even days for display; None means the student never pays back."""
    if days is None:
        return "never"
    if days * 24 < 1:
        return f"{max(days * 24 * 60, 0.1):.1f} minutes"
    if days < 1:
        return f"{days * 24:.1f} hours"
    return f"{days:,.1f} days"


def _headers(table: CostTable) -> list[str]:
    largest = format_volume(max(table.volumes_per_day))
    headers = ["Model", "Input tok", "Output tok", "Per request"]
    headers += [f"{format_volume(v)}/day" for v in table.volumes_per_day]
    headers += [f"Monthly @ {largest}/day", "Basis"]
    if table.student_label:
        headers.append("× student")
    return headers


def _display_rows(table: CostTable) -> list[list[str]]:
    largest = max(table.volumes_per_day)
    rows = []
    for row in table.rows:
        cells = [row.label, format_tokens(row.input_tokens), format_tokens(row.output_tokens)]
        cells.append(cost_model.format_usd(row.cost_per_request_usd))
        cells += [cost_model.format_usd(row.per_day_usd[v]) for v in table.volumes_per_day]
        cells += [cost_model.format_usd(row.per_month_usd[largest]), row.basis]
        if table.student_label:
            cells.append(format_ratio(row.savings_vs_student))
        rows.append(cells)
    return rows


def cost_table_headers(table: CostTable) -> list[str]:
    """Column headers of the md / marp / latex cost table (``cost --check`` matches a slide's against these)."""
    return _headers(table)


def cost_table_cells(table: CostTable) -> list[list[str]]:
    """Each row's display cells, in the order of ``cost_table_headers``."""
    return _display_rows(table)


def cost_table_values(table: CostTable) -> list[list[float | str]]:
    """The same cells unrounded (numbers as floats; a ratio with no number as its text), for checking a slide."""
    largest = max(table.volumes_per_day)
    rows: list[list[float | str]] = []
    for row in table.rows:
        values: list[float | str] = [row.label, row.input_tokens, row.output_tokens, row.cost_per_request_usd]
        values += [row.per_day_usd[v] for v in table.volumes_per_day]
        values += [row.per_month_usd[largest], row.basis]
        if table.student_label:
            ratio = row.savings_vs_student
            values.append(format_ratio(ratio) if ratio is None or ratio == float("inf") else ratio)
        rows.append(values)
    return rows


def _break_even_rows(table: CostTable) -> tuple[list[str], list[list[str]]]:
    headers = ["Teacher replaced", "One-time cost"] + [f"at {format_volume(v)}/day" for v in table.volumes_per_day]
    rows = [
        [b.teacher_label, cost_model.format_usd(b.one_time_cost_usd)]
        + [format_days(b.days_by_volume[v]) for v in table.volumes_per_day]
        for b in table.break_even
    ]
    return headers, rows


def render_cost_table(table: CostTable, fmt: str = "md") -> str:
    """Render ``table`` as ``md``, ``marp``, ``csv``, ``json`` or ``latex``.

    csv and json carry the unrounded numbers (they feed spreadsheets and scripts); md, marp and
    latex are for reading and round for display.
    """
    if fmt == "json":
        return json.dumps(_as_json(table), indent=2)
    if fmt == "csv":
        return _as_csv(table)
    from tabulate import tabulate

    tablefmt = "latex_booktabs" if fmt == "latex" else "github"
    out = [tabulate(_display_rows(table), headers=_headers(table), tablefmt=tablefmt, disable_numparse=True)]
    if table.break_even:
        headers, rows = _break_even_rows(table)
        out.append(tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True))
    month = f"{table.days_per_month:g}-day month"
    note = "\n\n".join([*table.notes, f"Prices: {table.pricing_label}; {month}; rounded for display only."])
    if fmt == "latex":
        note = note.replace("%", r"\%")
    if fmt == "marp":
        emphasised = "\n\n".join(f"*{line}*" for line in note.split("\n\n"))
        return f"{MARP_FRONT_MATTER}\n# Cost at scale\n\n" + "\n\n".join(out) + f"\n\n{emphasised}\n"
    return "\n\n".join(out) + "\n\n" + note + "\n"


def _as_json(table: CostTable) -> dict[str, Any]:
    data = asdict(table)
    for row in data["rows"]:
        row["per_day_usd"] = {str(k): v for k, v in row["per_day_usd"].items()}
        row["per_month_usd"] = {str(k): v for k, v in row["per_month_usd"].items()}
        if row["savings_vs_student"] == float("inf"):
            row["savings_vs_student"] = None
    for item in data["break_even"]:
        item["days_by_volume"] = {str(k): v for k, v in item["days_by_volume"].items()}
    return data


def _as_csv(table: CostTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["model", "label", "role", "basis", "input_tokens", "output_tokens", "cost_per_request_usd"]
        + [f"per_day_usd_{v}" for v in table.volumes_per_day]
        + [f"per_month_usd_{v}" for v in table.volumes_per_day]
        + ["savings_vs_student"]
    )
    for row in table.rows:
        writer.writerow(
            [row.model, row.label, row.role, row.basis, row.input_tokens, row.output_tokens, repr(row.cost_per_request_usd)]
            + [repr(row.per_day_usd[v]) for v in table.volumes_per_day]
            + [repr(row.per_month_usd[v]) for v in table.volumes_per_day]
            + ["" if row.savings_vs_student is None else repr(row.savings_vs_student)]
        )
    return buffer.getvalue()
