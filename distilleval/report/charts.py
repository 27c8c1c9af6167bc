"""Inline SVG charts drawn by hand (no libraries, no network): cost vs volume, accuracy, latency.

Every text that reaches the SVG is escaped; model names come from the summary and are data.
Every text fits its chart: titles wrap (the chart grows to hold them), labels beside a plot
are shortened with an ellipsis to the room they have (the full name is in the tables), and
labels near an edge turn to stay inside; widths are estimated by ``text_width``.
"""

from __future__ import annotations

import hashlib
import math
from html import escape

from distilleval.costs.cost_model import format_usd
from distilleval.report.figures import Figures, ModelRow
from distilleval.report.text_width import fit_text, text_width_px, wrap_text
from distilleval.results.item_results import latency_samples
from distilleval.results.summary_json import Distribution

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 36, 52
COLOURS = {"teacher": "#c2410c", "student": "#1d4ed8", "candidate": "#047857", "baseline": "#6b7280", "other": "#7c3aed"}
TITLE_PX, TITLE_LINE_PX, TITLE_MARGIN_PX = 14, 18, 12
EDGE_PX = 4  # the least room kept between a text and the chart's edge


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = 12, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" {extra}>'
            f"{escape(content)}</text>")


def chart_svg(chart_id: str, title: str, body: list[str], *, width: int = WIDTH, height: int = HEIGHT) -> str:
    """An inline SVG chart: a white page, the title on as many lines as it needs, then ``body``.

    ``body`` is drawn for a one-line title; a longer title moves it down and makes the chart
    taller by as much, so neither the title nor the plot is cut.
    """
    lines = wrap_text(title, width - 2 * TITLE_MARGIN_PX, TITLE_PX, bold=True)
    extra = (len(lines) - 1) * TITLE_LINE_PX
    total = height + extra
    heading = "".join(_text(width / 2, 20 + n * TITLE_LINE_PX, line, size=TITLE_PX, extra='font-weight="600"')
                      for n, line in enumerate(lines))
    plot = "".join(body) if not extra else f'<g transform="translate(0 {extra})">{"".join(body)}</g>'
    return (f'<svg class="chart" id="{chart_id}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {total}" width="{width}" height="{total}">'
            f"<title>{escape(title)}</title>"
            f'<rect x="0" y="0" width="{width}" height="{total}" fill="#ffffff"/>' + heading + plot + "</svg>")


def _frame(chart_id: str, title: str, body: list[str], *, height: int = HEIGHT) -> str:
    return chart_svg(chart_id, title, body, height=height)


def inside_text(x: float, y: float, content: str, *, size: int = 12, extra: str = "", width: int = WIDTH) -> str:
    """A label starting at ``x`` that turns to end at ``x`` when it would run past the right edge
    (and is shortened when it fits neither way)."""
    room_right, room_left = width - EDGE_PX - x, x - EDGE_PX
    needed = text_width_px(content, size)
    if needed <= room_right or room_right >= room_left:
        return _text(x, y, fit_text(content, room_right, size), anchor="start", size=size, extra=extra)
    return _text(x, y, fit_text(content, room_left, size), anchor="end", size=size, extra=extra)


def centred_text(x: float, y: float, content: str, *, size: int = 12, extra: str = "", width: int = WIDTH) -> str:
    """A label centred on ``x``, moved sideways as little as needed to stay inside the chart."""
    half = min(text_width_px(content, size), width - 2 * EDGE_PX) / 2
    centre = min(max(x, EDGE_PX + half), width - EDGE_PX - half)
    return _text(centre, y, fit_text(content, 2 * half, size), size=size, extra=extra)


def _log_ticks(low: float, high: float) -> list[float]:
    return [10.0**e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def _short_count(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _short_usd(value: float) -> str:
    """A dollar tick label short enough for the axis: ``$250``, ``$10k``, ``$3M``."""
    return "$" + _short_count(value) if value >= 1_000 else format_usd(value)


class _LogAxis:
    def __init__(self, low: float, high: float, start: float, end: float):
        self.low, self.high = math.log10(low), math.log10(high)
        self.start, self.end = start, end

    def __call__(self, value: float) -> float:
        share = (math.log10(value) - self.low) / (self.high - self.low)
        return self.start + share * (self.end - self.start)


def cost_chart(f: Figures) -> str:
    """First-month cost vs daily volume on log-log axes, with the break-even volume marked.

    The teacher line is cost/request × volume × days; the student line adds the one-time
    fine-tune cost, so the lines cross at the volume where the fine-tune pays for itself
    within the first month. When a cheaper way of running the teacher exists (prompt caching,
    batch tier), it is drawn dashed and the break-even is marked against it, as the verdict
    judges it.
    """
    included = "incl. one-time cost" if f.one_time is not None else "one-time cost not computed"
    title = f"First-month cost vs daily volume ({f.days_per_month:g}-day month, {included})"
    teacher, student = f.teacher, f.student
    if teacher is None or student is None or teacher.cost_per_request_usd is None or student.cost_per_request_usd is None:
        return _frame("chart-cost", title, [_text(WIDTH / 2, HEIGHT / 2, "cost per request not available")])
    days = f.days_per_month
    one_time = f.one_time.total_usd if f.one_time else 0.0
    cheapest = f.cheapest_teacher
    if cheapest is not None and math.isclose(cheapest.cost_per_request_usd, teacher.cost_per_request_usd, rel_tol=1e-9):
        cheapest = None  # the teacher as run is already its cheapest configuration
    crossing = f.break_even_volume_per_day(days)
    if cheapest is not None:
        saving = f.option_saving_per_request_usd(cheapest)
        crossing = f.one_time.total_usd / (saving * days) if f.one_time and saving and saving > 0 else None
    anchors = list(f.volumes_per_day) + ([crossing] if crossing else [])
    x_low = 10.0 ** math.floor(math.log10(max(1.0, min(anchors) / 100)))
    x_high = 10.0 ** math.ceil(math.log10(max(anchors) * 10))

    def teacher_cost(volume: float) -> float:
        return teacher.cost_per_request_usd * volume * days  # type: ignore[operator]

    def student_cost(volume: float) -> float:
        return one_time + student.cost_per_request_usd * volume * days  # type: ignore[operator]

    def cheapest_cost(volume: float) -> float:
        return cheapest.cost_per_request_usd * volume * days  # type: ignore[union-attr]

    samples = [x_low * (x_high / x_low) ** (i / 120) for i in range(121)]
    lines = [teacher_cost, student_cost] + ([cheapest_cost] if cheapest is not None else [])
    values = [v for x in samples for fn in lines if (v := fn(x)) > 0]
    y_low = 10.0 ** math.floor(math.log10(min(values)))
    y_high = 10.0 ** math.ceil(math.log10(max(values)))
    x_axis = _LogAxis(x_low, x_high, LEFT, WIDTH - RIGHT)
    y_axis = _LogAxis(y_low, y_high, HEIGHT - BOTTOM, TOP)
    body = ['<g class="grid" stroke="#e5e7eb" stroke-width="1">']
    for tick in _log_ticks(x_low, x_high):
        body.append(f'<line x1="{x_axis(tick):.1f}" y1="{TOP}" x2="{x_axis(tick):.1f}" y2="{HEIGHT - BOTTOM}"/>')
    y_ticks = _log_ticks(y_low, y_high)
    step = max(1, math.ceil(len(y_ticks) / 8))
    for tick in y_ticks[::step]:
        body.append(f'<line x1="{LEFT}" y1="{y_axis(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{y_axis(tick):.1f}"/>')
    body.append("</g>")
    for tick in _log_ticks(x_low, x_high):
        body.append(_text(x_axis(tick), HEIGHT - BOTTOM + 16, _short_count(tick), size=11))
    for tick in y_ticks[::step]:
        body.append(_text(LEFT - 6, y_axis(tick) + 4, _short_usd(tick), anchor="end", size=11))
    body.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 12, "requests per day (log scale)", size=12))
    body.append(_text(16, (TOP + HEIGHT - BOTTOM) / 2, "USD, first month (log scale)", size=12,
                      extra=f'transform="rotate(-90 16 {(TOP + HEIGHT - BOTTOM) / 2:.1f})"'))
    for volume in f.volumes_per_day:
        x = x_axis(volume)
        body.append(f'<line class="volume-marker" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" '
                    f'stroke="#9ca3af" stroke-dasharray="4 3"/>')
        body.append(_text(x + 3, TOP + 12, f"{_short_count(volume)}/day", anchor="start", size=10, extra='fill="#4b5563"'))
    for row, fn in ((teacher, teacher_cost), (student, student_cost)):
        points = " ".join(f"{x_axis(x):.1f},{y_axis(max(fn(x), y_low)):.1f}" for x in samples)
        body.append(f'<polyline class="series" data-role="{row.result.role}" fill="none" stroke="{COLOURS[row.result.role]}" '
                    f'stroke-width="2.5" points="{points}"/>')
    if cheapest is not None:
        points = " ".join(f"{x_axis(x):.1f},{y_axis(max(cheapest_cost(x), y_low)):.1f}" for x in samples)
        body.append(f'<polyline class="series" data-role="teacher-cheapest" fill="none" stroke="{COLOURS["teacher"]}" '
                    f'stroke-width="2" stroke-dasharray="6 4" points="{points}"/>')
    if crossing and x_low <= crossing <= x_high:
        cx, cy = x_axis(crossing), y_axis((cheapest_cost if cheapest is not None else teacher_cost)(crossing))
        body.append(f'<circle class="break-even" cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="#facc15" stroke="#111827" stroke-width="1.5"/>')
        label = f"break-even in {days:g} days at {crossing:,.0f}/day" + (" vs the cheapest teacher" if cheapest is not None else "")
        body.append(inside_text(cx + 9, cy + 18, label, size=11, extra='font-weight="600"'))
    # Without a computed one-time cost the student line is its running cost alone; "+ $0 one-time"
    # would claim a figure the cost tables say is unknown.
    one_time_text = f" + {format_usd(one_time)} one-time" if f.one_time is not None else " (one-time cost not computed)"
    legend = [(f"teacher: {teacher.result.display_name}", COLOURS["teacher"]),
              (f"student: {student.result.display_name}{one_time_text}", COLOURS["student"])]
    if cheapest is not None:
        legend.append((f"teacher, cheapest: {cheapest.label} (dashed)", COLOURS["teacher"]))
    body += _legend(legend)
    return _frame("chart-cost", title, body)


def _legend(entries: list[tuple[str, str]]) -> list[str]:
    out = []
    for index, (label, colour) in enumerate(entries):
        y = TOP + 30 + index * 18
        out.append(f'<rect x="{LEFT + 12}" y="{y - 9}" width="14" height="4" fill="{colour}"/>')
        out.append(_text(LEFT + 32, y - 3, fit_text(label, WIDTH - RIGHT - LEFT - 32, 11), anchor="start", size=11))
    return out


def accuracy_chart(f: Figures) -> str:
    """Each model's metric with its confidence interval, and the non-inferiority line."""
    metric = f.summary.primary_metric.replace("_", " ")
    title = f"{metric.capitalize()} with {f.models[0].result.metric.confidence:.0%} intervals" if f.models and f.models[0].result.metric else metric
    rows = [(m, metric, metric.value) for m in f.models
            if (metric := m.result.metric) is not None and metric.value is not None]
    height = TOP + BOTTOM + 44 * max(1, len(rows)) + 10
    if not rows:
        return _frame("chart-accuracy", title, [_text(WIDTH / 2, height / 2, "no scores")], height=height)
    lows = [metric.ci_low if metric.ci_low is not None else value for _, metric, value in rows]
    x_min = max(0.0, math.floor((min(lows) - 0.05) * 20) / 20)
    label_width = 230
    start, end = LEFT + label_width - 60, WIDTH - RIGHT

    def x(value: float) -> float:
        return start + (value - x_min) / (1.0 - x_min) * (end - start)

    body = []
    tick = x_min
    while tick <= 1.0 + 1e-9:
        body.append(f'<line x1="{x(tick):.1f}" y1="{TOP + 6}" x2="{x(tick):.1f}" y2="{height - BOTTOM + 6}" stroke="#e5e7eb"/>')
        body.append(_text(x(tick), height - BOTTOM + 22, f"{tick * 100:.0f}%", size=11))
        tick += 0.05 if 1.0 - x_min <= 0.5 else 0.1
    ni_line = None
    if f.teacher is not None and f.teacher.result.metric and f.teacher.result.metric.value is not None:
        ni_line = f.teacher.result.metric.value - f.margin
        if ni_line >= x_min:
            body.append(f'<line class="ni-margin" x1="{x(ni_line):.1f}" y1="{TOP + 6}" x2="{x(ni_line):.1f}" '
                        f'y2="{height - BOTTOM + 6}" stroke="#dc2626" stroke-dasharray="5 4"/>')
            body.append(centred_text(x(ni_line), height - BOTTOM + 38, f"teacher − {f.margin * 100:g} pts margin", size=10,
                                     extra='fill="#dc2626"'))
    for index, (row, m, value) in enumerate(rows):
        y = TOP + 30 + index * 44
        colour = COLOURS[row.result.role]
        body.append(_text(LEFT - 60, y + 4, fit_text(row.label, start - (LEFT - 60) - 10, 11), anchor="start", size=11))
        if m.ci_low is not None and m.ci_high is not None:
            body.append(f'<line class="interval" x1="{x(m.ci_low):.1f}" y1="{y}" x2="{x(m.ci_high):.1f}" y2="{y}" '
                        f'stroke="{colour}" stroke-width="3"/>')
            for end_value in (m.ci_low, m.ci_high):
                body.append(f'<line x1="{x(end_value):.1f}" y1="{y - 7}" x2="{x(end_value):.1f}" y2="{y + 7}" stroke="{colour}" stroke-width="2"/>')
        body.append(f'<circle class="point" cx="{x(value):.1f}" cy="{y}" r="5.5" fill="{colour}"/>')
        body.append(centred_text(x(value), y - 10, f"{value * 100:.1f}%", size=11))
    return _frame("chart-accuracy", title, body, height=height)


def _jitter(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF - 0.5


def latency_chart(f: Figures, *, max_points: int = 400) -> str:
    """Per-call latency per model on a log axis: item dots (when recorded), p50–p95 box, p99 tick."""
    title = "Latency per call under the run's load (log scale; box p50–p95, tick p99; cache hits excluded)"
    rows: list[tuple[ModelRow, Distribution, float, list[float]]] = []
    for row in f.models:
        latency = row.result.latency_ms
        if latency is None or latency.n == 0 or latency.p50 is None:
            continue
        rows.append((row, latency, latency.p50, latency_samples(f.summary, row.key, limit=max_points)))
    height = TOP + BOTTOM + 60 * max(1, len(rows))
    if not rows:
        return _frame("chart-latency", title, [_text(WIDTH / 2, height / 2, "no measured latency")], height=height)
    values = [v for *_, s in rows for v in s] + [v for _, latency, p50, _ in rows for v in (p50, latency.p95, latency.p99) if v]
    x_low, x_high = 10.0 ** math.floor(math.log10(min(values))), 10.0 ** math.ceil(math.log10(max(values)))
    label_room = LEFT + 190 - (LEFT - 60) - 10
    axis = _LogAxis(x_low, x_high, LEFT + 190, WIDTH - RIGHT)
    body = []
    for tick in _log_ticks(x_low, x_high):
        body.append(f'<line x1="{axis(tick):.1f}" y1="{TOP + 4}" x2="{axis(tick):.1f}" y2="{height - BOTTOM + 4}" stroke="#e5e7eb"/>')
        body.append(_text(axis(tick), height - BOTTOM + 20, f"{tick:g} ms" if tick < 1000 else f"{tick / 1000:g} s", size=11))
    for index, (row, latency, p50, samples) in enumerate(rows):
        y = TOP + 34 + index * 60
        colour = COLOURS[row.result.role]
        body.append(_text(LEFT - 60, y + 4, fit_text(row.label, label_room, 11), anchor="start", size=11))
        for position, value in enumerate(samples):
            jitter = _jitter(f"{row.key}:{position}") * 30
            body.append(f'<circle class="sample" cx="{axis(value):.1f}" cy="{y + jitter:.1f}" r="2" fill="{colour}" fill-opacity="0.35"/>')
        if latency.p95 is not None:
            body.append(f'<rect class="box" x="{axis(p50):.1f}" y="{y - 9}" width="{axis(latency.p95) - axis(p50):.1f}" '
                        f'height="18" fill="none" stroke="{colour}" stroke-width="2"/>')
        body.append(f'<line x1="{axis(p50):.1f}" y1="{y - 12}" x2="{axis(p50):.1f}" y2="{y + 12}" stroke="{colour}" stroke-width="3"/>')
        if latency.p99 is not None:
            body.append(f'<line x1="{axis(latency.p99):.1f}" y1="{y - 6}" x2="{axis(latency.p99):.1f}" y2="{y + 6}" stroke="{colour}" stroke-width="2"/>')
        bound = " · client-bound" if row.result.latency is not None and row.result.latency.client_bound else ""
        body.append(_text(LEFT - 60, y + 20, fit_text(f"p50 {_ms(p50)} · p95 {_ms(latency.p95 or 0)}{bound}", label_room, 10),
                          anchor="start", size=10, extra='fill="#4b5563"'))
    return _frame("chart-latency", title, body, height=height)


def _ms(value: float) -> str:
    """Milliseconds for a chart label: two significant digits under 10 ms (local models)."""
    return f"{value:.2g} ms" if 0 < value < 10 else f"{value:,.0f} ms"


def per_class_chart(f: Figures, *, max_classes: int = 40) -> str:
    """Per-class F1 as horizontal bars, worst first, with each class's recall as a tick.

    Classes without eval items are left out; beyond ``max_classes`` only the worst are drawn
    (the per-class table lists every class).
    """
    per_class = f.per_class
    title = "Per-class F1, worst first (tick: recall)"
    if per_class is None:
        return _frame("chart-per-class", title, [_text(WIDTH / 2, 60, "no per-class results")], height=100)
    ranked = sorted((r for r in per_class.classes if r.support > 0), key=lambda r: (r.f1, -r.support, r.label))
    shown = ranked[:max_classes]
    if len(ranked) > len(shown):
        title = f"Per-class F1, the {len(shown)} worst of {len(ranked)} classes (tick: recall)"
    title += f" — {per_class.model.label}"
    row_height, top = 14, TOP + 8
    height = top + row_height * max(1, len(shown)) + 34
    start, end = LEFT + 150, WIDTH - RIGHT - 44
    colour = COLOURS[per_class.model.result.role]
    body = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = start + tick * (end - start)
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 30}" stroke="#e5e7eb"/>')
        body.append(_text(x, height - 16, f"{tick:.2f}", size=10))
    for index, r in enumerate(shown):
        y = top + index * row_height
        label = fit_text(r.label, start - 6 - EDGE_PX, 10)
        body.append(_text(start - 6, y + 10, label, anchor="end", size=10))
        width = max(r.f1 * (end - start), 0.5)
        body.append(f'<rect class="class-bar" data-label="{escape(r.label)}" x="{start}" y="{y + 2}" width="{width:.1f}" '
                    f'height="{row_height - 4}" fill="{colour}" fill-opacity="0.75"><title>{escape(r.label)}: F1 {r.f1:.3f}, '
                    f'support {r.support}</title></rect>')
        if r.recall is not None:
            rx = start + r.recall * (end - start)
            body.append(f'<line class="recall-tick" x1="{rx:.1f}" y1="{y + 1}" x2="{rx:.1f}" y2="{y + row_height - 1}" '
                        'stroke="#111827" stroke-width="2"/>')
        body.append(_text(end + 4, y + 10, f"{r.f1:.2f}", anchor="start", size=10))
    return _frame("chart-per-class", title, body, height=height)
