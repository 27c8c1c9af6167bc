"""The learning-curve section of a report: tables and an inline SVG chart from ``learning_curve.json``.

A run gets this section when ``distilleval curve SPEC --run RUN`` has written its curve beside
the run's ``summary.json``. Model names are data and are escaped.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from distilleval.costs.cost_model import format_usd
from distilleval.report.charts import centred_text, chart_svg
from distilleval.report.tables import Cell, Table, signed_points
from distilleval.report.text_width import fit_text, text_width_px
from distilleval.results.learning_curve import FILE_NAME, DoublingGain, LearningCurve, read_curve

WIDTH, HEIGHT = 720, 380
LEFT, RIGHT, TOP, BOTTOM = 70, 24, 40, 56
PALETTE = ("#1d4ed8", "#c2410c", "#15803d", "#7c3aed", "#6b7280")


def run_curve(run: str | Path) -> LearningCurve | None:
    """The learning curve written beside a run's summary, or None when there is none."""
    target = Path(run)
    folder = target if target.is_dir() else target.parent
    path = folder / FILE_NAME
    return read_curve(path) if path.is_file() else None


def _pts(value: float) -> str:
    return f"{signed_points(value)} pts"


def gain_sentence(model: str, gain: DoublingGain | None, curve: LearningCurve) -> str:
    """What one more doubling of the training data buys ``model``, in words, with its interval."""
    margin = f"{curve.margin * 100:g} pts"
    if gain is None:
        return f"{model}: fewer than two sizes with complete seeds, so no gain per doubling"
    span = f"{gain.sizes[0]:,}–{gain.sizes[-1]:,} items"
    interval = f"{gain.confidence:.0%} interval [{_pts(gain.low)}, {_pts(gain.high)}]"
    if gain.flat:
        return (f"{model} flattens over {span}: each doubling adds {_pts(gain.gain)} ({interval}); even the upper "
                f"end is below the {margin} margin per doubling, so each further doubling is worth less than the margin")
    if gain.seeds == 1:
        return (f"{model}: each doubling over {span} adds {_pts(gain.gain)} ({interval}, over eval items only: one "
                "seed cannot show the training draw's noise); not tested for flatness — rerun with --seeds 2 or more")
    return (f"{model} is not shown flat over {span}: each doubling still buys {_pts(gain.gain)} ({interval}); "
            f"the upper end is not below the {margin} margin per doubling, so more labels may still help")


def curve_tables(curve: LearningCurve) -> list[Table]:
    """Score per training size (and, for a Tinker student, the cost of each size)."""
    metric = curve.metric.replace("_", " ")
    scores = Table(
        key="learning-curve",
        title=f"Learning curve: {metric} against training items",
        columns=["Model", "Training items", f"Mean {metric}", "95% interval", "Seed sd", "Seeds"],
    )
    for point in sorted(curve.points, key=lambda p: (curve.models().index(p.model), p.size)):
        scores.rows.append([
            Cell(point.model),
            Cell(f"{point.size:,}", point.size),
            Cell(f"{point.mean * 100:.1f}%", point.mean),
            Cell(f"[{point.low * 100:.1f}%, {point.high * 100:.1f}%]"),
            Cell(f"{point.seed_sd * 100:.1f} pts", point.seed_sd),
            Cell(str(len(point.scores)), len(point.scores)),
        ])
    for model, gain in curve.gains.items():
        scores.notes.append(gain_sentence(model, gain, curve))
    scores.notes.extend(curve.notes)
    tables = [scores]
    if curve.costs:
        costs = Table(key="learning-curve-cost", title="Projected cost of labelling and training a Tinker student per size",
                      columns=["Training items", "Teacher labelling", "Training", "Total"])
        for cost in curve.costs:
            costs.rows.append([Cell(f"{cost.size:,}", cost.size), Cell(format_usd(cost.labelling_usd), cost.labelling_usd),
                               Cell(format_usd(cost.training_usd), cost.training_usd),
                               Cell(format_usd(cost.labelling_usd + cost.training_usd), cost.labelling_usd + cost.training_usd)])
        costs.notes.append("projected from the spec's rendered prompts and the pricing table, as `estimate` and `cost SPEC` "
                           "project them: the whole training split row by row, a smaller size at the mean row over all items; "
                           "engineering time not included")
        tables.append(costs)
    return tables


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = 11, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" {extra}>{escape(content)}</text>'


def curve_chart(curve: LearningCurve) -> str:
    """Mean score against training items (log axis), one line per model with its intervals.

    A dashed line marks where a curve is shown flat (the first size of its slope window).
    """
    title = f"Learning curve: {curve.metric.replace('_', ' ')} against training items"
    body: list[str] = []
    sizes = curve.sizes()
    if sizes:
        low_x, high_x = math.log10(min(sizes)), math.log10(max(sizes))
        if high_x - low_x < 1e-9:
            low_x, high_x = low_x - 0.5, high_x + 0.5
        lows = [p.low for p in curve.points]
        y_min = max(0.0, math.floor(min(lows) * 10) / 10)

        def x(size: float) -> float:
            return LEFT + (math.log10(size) - low_x) / (high_x - low_x) * (WIDTH - LEFT - RIGHT)

        def y(score: float) -> float:
            return HEIGHT - BOTTOM - (score - y_min) / (1.0 - y_min) * (HEIGHT - TOP - BOTTOM)

        tick = y_min
        while tick <= 1.0 + 1e-9:
            body.append(f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{y(tick):.1f}" stroke="#e5e7eb"/>')
            body.append(_text(LEFT - 8, y(tick) + 4, f"{tick * 100:.0f}%", anchor="end"))
            tick += 0.1
        for size in _labelled_sizes(sizes, x):
            body.append(centred_text(x(size), HEIGHT - BOTTOM + 18, f"{size:,}", size=11))
        body.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 12, "training items (log scale)"))
        for index, model in enumerate(curve.models()):
            colour = PALETTE[index % len(PALETTE)]
            points = sorted((p for p in curve.points if p.model == model), key=lambda p: p.size)
            path = " ".join(f"{x(p.size):.1f},{y(p.mean):.1f}" for p in points)
            body.append(f'<polyline class="curve" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for p in points:
                body.append(f'<line class="interval" x1="{x(p.size):.1f}" y1="{y(p.low):.1f}" x2="{x(p.size):.1f}" '
                            f'y2="{y(p.high):.1f}" stroke="{colour}" stroke-width="1.5"/>')
                body.append(f'<circle class="point" cx="{x(p.size):.1f}" cy="{y(p.mean):.1f}" r="4" fill="{colour}"/>')
            gain = curve.gains.get(model)
            if gain is not None and gain.flat:
                start = gain.sizes[0]
                body.append(f'<line class="flat-from" x1="{x(start):.1f}" y1="{TOP}" x2="{x(start):.1f}" y2="{HEIGHT - BOTTOM}" '
                            f'stroke="{colour}" stroke-dasharray="4 4"/>')
            legend_y = TOP + 12 + index * 16
            body.append(f'<rect x="{LEFT + 12}" y="{legend_y - 8}" width="14" height="4" fill="{colour}"/>')
            flat_text = ""
            if gain is not None:
                flat_text = (f" (flat over {gain.sizes[0]:,}–{gain.sizes[-1]:,})" if gain.flat
                             else f" ({signed_points(gain.gain)} pts per doubling)")
            body.append(_text(LEFT + 32, legend_y - 2, fit_text(f"{model}{flat_text}", WIDTH - RIGHT - LEFT - 32, 11),
                              anchor="start"))
    else:
        body.append(_text(WIDTH / 2, HEIGHT / 2, "no points"))
    return chart_svg("chart-learning-curve", title, body, width=WIDTH, height=HEIGHT)


def _labelled_sizes(sizes: list[int], x, *, size_px: int = 11, gap_px: float = 6) -> list[int]:
    """The sizes whose axis labels do not overlap, the largest (the whole training split) always among them.

    Labels are placed from the right; a label that would touch the one to its right is left out
    (its point is still drawn).
    """
    kept: list[int] = []
    left_edge = math.inf
    for size in sorted(sizes, reverse=True):
        half = text_width_px(f"{size:,}", size_px) / 2
        if x(size) + half + gap_px <= left_edge:
            kept.append(size)
            left_edge = x(size) - half
    return sorted(kept)
