"""SVG charts: the cost chart's legend says only what the cost tables say."""

from __future__ import annotations

import dataclasses

from distilleval.report import compute_figures, load_run
from distilleval.report.charts import cost_chart
from tests.ticket_routing_fixture import SUMMARY_PATH


def test_cost_legend_names_the_one_time_cost_when_it_was_computed():
    figures = compute_figures(load_run(SUMMARY_PATH))
    assert figures.one_time is not None
    assert "+ $6.66 one-time" in cost_chart(figures)  # training priced on the 1,800 rows left after the held-out 10%


def test_cost_legend_never_claims_a_zero_one_time_cost_it_did_not_compute():
    # The break-even table says "not computed"; the chart used to add "+ $0 one-time".
    figures = dataclasses.replace(compute_figures(load_run(SUMMARY_PATH)), one_time=None)
    svg = cost_chart(figures)
    assert "one-time" in svg and "+ $0 one-time" not in svg
    assert "(one-time cost not computed)" in svg and "incl. one-time cost" not in svg


def test_a_cheaper_teacher_configuration_is_drawn_and_break_even_marked_against_it(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def cached_teacher(summary):
        teacher = summary.models["teacher"]
        teacher.cached_input_tokens_total = 0.9 * teacher.input_tokens.mean * teacher.input_tokens.n

    figures = compute_figures(load_run(write_variant(tmp_path, cached_teacher)))
    svg = cost_chart(figures)
    assert 'data-role="teacher-cheapest"' in svg and "teacher, cheapest: prompt caching (90% of input cached" in svg
    # The marker sits where the student's first month meets the cheapest teacher's.
    cheapest = figures.cheapest_teacher
    crossing = figures.one_time.total_usd / (figures.option_saving_per_request_usd(cheapest) * figures.days_per_month)
    assert f"at {crossing:,.0f}/day vs the cheapest teacher" in svg
    assert 'data-role="teacher-cheapest"' not in cost_chart(compute_figures(load_run(SUMMARY_PATH)))


# --- every text inside its chart, in real headless Chromium --------------------------------------

TEXT_BOXES = """JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.viewBox.baseVal, frame = svg.getBoundingClientRect(), scale = box.width / frame.width;
  return {id: svg.id, width: box.width, height: box.height, texts: Array.from(svg.querySelectorAll('text')).map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, x0: (r.left - frame.left) * scale, y0: (r.top - frame.top) * scale,
            x1: (r.right - frame.left) * scale, y1: (r.bottom - frame.top) * scale};
  })};
}))"""
NEWS_TOPIC_SIZES = [50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 12_000]  # a 12,000-item training split


def overlaps(a: dict, b: dict, slack: float = 0.5) -> bool:
    return a["x0"] < b["x1"] - slack and b["x0"] < a["x1"] - slack and a["y0"] < b["y1"] - slack and b["y0"] < a["y1"] - slack


def misplaced_texts(charts: list[dict]) -> tuple[list, list]:
    """(texts outside their chart's viewBox, pairs of texts that overlap), by chart id."""
    outside, overlapping = [], []
    for chart in charts:
        texts = chart["texts"]
        assert texts and all(t["x1"] > t["x0"] for t in texts)  # every text was laid out
        outside += [(chart["id"], t["text"]) for t in texts
                    if t["x0"] < -0.5 or t["y0"] < -0.5 or t["x1"] > chart["width"] + 0.5 or t["y1"] > chart["height"] + 0.5]
        overlapping += [(chart["id"], a["text"], b["text"]) for n, a in enumerate(texts) for b in texts[n + 1:] if overlaps(a, b)]
    return outside, overlapping


def test_every_chart_text_fits_its_chart_and_none_overlap(tmp_path):
    """Long model names, a 77-class per-class chart, the latency chart's long title and a learning
    curve over 12,000 items, then every committed example report: drawn by Chromium, every text
    lies inside its SVG and no two overlap."""
    import json

    from distilleval.report.render import render_run
    from distilleval.results.learning_curve import CurvePoint, DoublingGain, LearningCurve, write_curve
    from tests.report.browser_tools import REPO_ROOT, require_chromium
    from tests.report.headless import open_pages
    from tests.report.many_classes import LONG_NAMES, write_77_class_run

    chromium = require_chromium()
    run = write_77_class_run(tmp_path, display_names=LONG_NAMES)
    points = [CurvePoint.of(model, size, [0.5 + 0.03 * n + shift], 300)
              for n, size in enumerate(NEWS_TOPIC_SIZES) for model, shift in (("tfidf_logreg", 0.0), ("wordllama_logreg", 0.05))]
    gain = DoublingGain(NEWS_TOPIC_SIZES[-3:], 3, 300, 0.011, 0.004, 0.018, 0.90, 0.03, True, "method")
    gains = {"tfidf_logreg": gain, "wordllama_logreg": gain}
    write_curve(LearningCurve("t", "accuracy", 12_000, 300, 3, 0.03, points, gains, [], []), tmp_path / "run77" / "learning_curve.json")
    page = tmp_path / "report.html"
    page.write_text(render_run(run, "html"), encoding="utf-8")
    examples = []
    for case in sorted((REPO_ROOT / "reports").glob("*/summary.json")):
        examples.append(tmp_path / f"{case.parent.name}.html")
        examples[-1].write_text(render_run(case.parent, "html"), encoding="utf-8")
    result, *example_results = open_pages(chromium, [page, *examples], probe=TEXT_BOXES, settle_s=0.2, screenshot=False)
    charts = {chart["id"]: chart for chart in json.loads(result.probe)}
    assert set(charts) == {"chart-pareto", "chart-cost", "chart-accuracy", "chart-latency", "chart-per-class",
                           "chart-learning-curve"}
    outside, overlapping = misplaced_texts(list(charts.values()))
    assert outside == [] and overlapping == [], (outside, overlapping)
    assert len(example_results) >= 6
    for example, run in zip(examples, example_results):
        assert misplaced_texts(json.loads(run.probe)) == ([], []), example.name
    # The long titles wrapped rather than shrank: the latency title is on two lines, whole.
    title = [t["text"] for t in charts["chart-latency"]["texts"] if t["y0"] < 40]
    assert len(title) == 2
    assert " ".join(title) == "Latency per call under the run's load (log scale; box p50–p95, tick p99; cache hits excluded)"
    # The size axis keeps the whole split (12,000) and drops the label that would touch it.
    axis = [t["text"] for t in charts["chart-learning-curve"]["texts"] if t["text"].replace(",", "").isdigit()]
    assert axis[-1] == "12,000" and "10,000" not in axis and {"50", "1,000"} <= set(axis)
