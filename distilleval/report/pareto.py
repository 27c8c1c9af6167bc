"""The Pareto front of the decision as a table (every format) and a chart (HTML).

The table lists every arm (``report.arms``): its metric with interval, cost per request, monthly
cost at the spec's largest volume (every volume's is in the json report), the total with wrong answers priced when the spec prices
them, whether it is dominated, and how the recommendation judged it. The chart plots each arm's
metric with its interval against its monthly cost at the largest volume, on a log axis when the
costs span more than a decade.
"""

from __future__ import annotations

import math
import re
from html import escape

from distilleval.costs.cost_model import format_usd
from distilleval.report.arms import Arm
from distilleval.report.recommendation import Recommendation
from distilleval.report.tables import DASH, Cell, Table, usd

PARETO_TITLE = "The Pareto front: accuracy against monthly cost, every arm"
KIND_COLOURS = {"teacher": "#c2410c", "candidate": "#7c3aed", "student": "#1d4ed8", "baseline": "#6b7280",
                "cascade": "#047857"}


def _interval(arm: Arm) -> str:
    if arm.accuracy is None:
        return DASH
    if arm.ci_low is None or arm.ci_high is None:
        return f"{arm.accuracy:.1%}"
    return f"{arm.accuracy:.1%} [{arm.ci_low:.1%}, {arm.ci_high:.1%}]"


def pareto_table(rec: Recommendation, metric: str) -> Table:
    """Every arm, dominated ones marked, with the recommendation's judgement (empty without arms)."""
    table = rec.table
    if table is None or not table.arms:
        return Table("pareto", PARETO_TITLE, [])
    priced = any(a.error_cost is not None for a in table.arms)
    # One volume (the largest, the one the recommendation judges at) keeps the table to a slide's width;
    # every volume's monthly cost is in the json report and summary.json's decision block.
    top = max(table.volumes_per_day) if table.volumes_per_day else None
    columns = ["Arm", metric, "Cost/request"] + ([f"Monthly @ {top:,}/day"] if top is not None else [])
    if priced and top is not None:
        columns.append("Total with errors")
    columns += ["Dominated", "Judgement"]
    out = Table("pareto", PARETO_TITLE, columns)
    judged = {j.arm.name: j for j in rec.judgements}
    for arm in table.arms:
        row = [Cell(arm.name, arm.kind), Cell(_interval(arm), arm.accuracy), usd(arm.cost_per_request_usd)]
        row += [usd(arm.monthly_usd.get(top))] if top is not None else []
        if priced and top is not None:
            total = arm.total_monthly_usd(top, table.days_per_month)
            row.append(Cell(DASH) if total is None else
                       Cell(f"{format_usd(total[0])} [{format_usd(total[1])}, {format_usd(total[2])}]", total[0]))
        dominated = table.dominated.get(arm.name)
        row.append(Cell("unknown" if dominated is None else "dominated" if dominated else "on the front", dominated))
        j = judged.get(arm.name)
        row.append(Cell(DASH) if j is None else Cell(_short_judgement(j.status, j.reason), j.reason))
        out.rows.append(row)
    out.notes.append(f"Dominated: another arm is at least as accurate (point estimate) and costs no more per request, "
                     f"and is strictly better in one. Month = {table.days_per_month:g} days.")
    errors = next((a.error_cost for a in table.arms if a.error_cost is not None), None)
    if errors is not None:
        out.notes.append(f"Total = inference + expected wrong answers × volume (decision.cost_per_error_usd); "
                         f"interval: {errors.method}; inference cost taken as known.")
    out.notes.append("Judgement: why each arm was or was not recommended, in short; the verdict gives each reason in full.")
    out.notes.append(rec.text)
    return out


def _short_judgement(status: str, reason: str) -> str:
    """The judgement as a few words (the full reason is the cell's value and in the verdict)."""
    if status == "recommended":
        return "recommended"
    if status == "costlier":
        return "qualifies, costs more"
    head = re.split(r":| \(|;", reason, maxsplit=1)[0].strip()
    return head if status == "rejected" else f"{status}: {head}"


def _log_or_linear(values: list[float]):
    low, high = min(values), max(values)
    if low > 0 and high / low > 10:
        lo, hi = math.log10(low) - 0.15, math.log10(high) + 0.15
        return (lambda v: (math.log10(max(v, 1e-12)) - lo) / (hi - lo)), "log"
    span = (high - low) or max(high, 1e-9)
    lo, hi = max(0.0, low - 0.1 * span), high + 0.1 * span
    return (lambda v: (v - lo) / (hi - lo)), "linear"


def pareto_chart(rec: Recommendation, metric: str) -> str:
    """Accuracy (with interval bars) against monthly cost at the largest volume, one point per arm (SVG)."""
    table = rec.table
    width, height, left, right, top_pad, bottom = 720, 400, 70, 24, 40, 64
    title = PARETO_TITLE
    volume = max(table.volumes_per_day) if table is not None and table.volumes_per_day else None
    points = [(a, accuracy) for a in (table.arms if table is not None else [])
              if (accuracy := a.accuracy) is not None and volume in a.monthly_usd]
    parts = [f'<svg class="chart" id="chart-pareto" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
             f"<title>{escape(title)}</title>", f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">{escape(title)}</text>']
    if table is None or volume is None or not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12">no arm has both a '
                     f"{escape(metric)} and a cost</text></svg>")
        return "".join(parts)
    costs = [a.monthly_usd[volume] for a, _ in points]
    to_x, scale = _log_or_linear(costs)
    lows = [a.ci_low if a.ci_low is not None else accuracy for a, accuracy in points]
    y_min = max(0.0, math.floor((min(lows) - 0.02) * 20) / 20)
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def x(value: float) -> float:
        return left + to_x(value) * plot_w

    def y(value: float) -> float:
        return top_pad + (1 - (value - y_min) / (1 - y_min)) * plot_h

    tick = y_min
    while tick <= 1.0 + 1e-9:
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick * 100:.0f}%</text>')
        tick += 0.05 if 1 - y_min <= 0.5 else 0.1
    axis = f"monthly cost at {volume:,}/day ({scale} scale)"
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle" font-size="11">{escape(axis)}</text>')
    front = sorted((p for p in points if table.dominated.get(p[0].name) is False), key=lambda p: p[0].monthly_usd[volume])
    if len(front) > 1:
        line = " ".join(f"{x(a.monthly_usd[volume]):.1f},{y(accuracy):.1f}" for a, accuracy in front)
        parts.append(f'<polyline class="front" points="{line}" fill="none" stroke="#111827" stroke-dasharray="4 3"/>')
    for index, (arm, accuracy) in enumerate(points):
        cx, cy = x(arm.monthly_usd[volume]), y(accuracy)
        colour = KIND_COLOURS.get(arm.kind, "#111827")
        if arm.ci_low is not None and arm.ci_high is not None:
            parts.append(f'<line class="interval" x1="{cx:.1f}" y1="{y(arm.ci_low):.1f}" x2="{cx:.1f}" '
                         f'y2="{y(arm.ci_high):.1f}" stroke="{colour}" stroke-width="2"/>')
        dominated = table.dominated.get(arm.name)
        fill = "#ffffff" if dominated else colour
        recommended = rec.arm is not None and arm.name == rec.arm.name
        parts.append(f'<circle class="arm{" dominated" if dominated else ""}{" recommended" if recommended else ""}" '
                     f'cx="{cx:.1f}" cy="{cy:.1f}" r="{7 if recommended else 5}" fill="{fill}" stroke="{colour}" stroke-width="2"/>')
        label = arm.name[:32] + (" ★" if recommended else "")
        # Labels right of a point in the left half, left of it in the right half: none runs off the chart.
        right_half = cx > left + plot_w / 2
        parts.append(f'<text x="{cx - 8 if right_half else cx + 8:.1f}" y="{cy - 6 - (index % 2) * 11:.1f}" '
                     f'text-anchor="{"end" if right_half else "start"}" font-size="10">{escape(label)}</text>')
        parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 16:.1f}" text-anchor="middle" font-size="9" '
                     f'fill="#6b7280">{escape(format_usd(arm.monthly_usd[volume]))}</text>')
    legend = "filled: on the Pareto front · hollow: dominated · ★ recommended · bars: the metric's interval"
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 30}" text-anchor="middle" font-size="10" fill="#374151">'
                 f"{escape(legend)}</text>")
    parts.append("</svg>")
    return "".join(parts)

