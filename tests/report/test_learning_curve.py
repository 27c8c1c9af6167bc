"""The learning-curve report section: its tables, its chart, and where the report finds it."""

from __future__ import annotations

from distilleval.report.learning_curve import curve_chart, curve_tables, run_curve
from distilleval.results.learning_curve import CurvePoint, DoublingGain, LearningCurve, SizeCost, write_curve

FLAT = DoublingGain([50, 200, 800], 3, 300, 0.004, -0.006, 0.014, 0.90, 0.03, True, "method")
RISING = DoublingGain([50, 200, 800], 3, 300, 0.05, 0.03, 0.07, 0.90, 0.03, False, "method")
ONE_SEED = DoublingGain([50, 200, 800], 1, 300, 0.004, -0.006, 0.014, 0.90, 0.03, False, "method")


def make_curve(model: str = "tfidf", gain: DoublingGain | None = FLAT) -> LearningCurve:
    points = [CurvePoint.of(model, size, [score], 300) for size, score in ((50, 0.5), (200, 0.8), (800, 0.82))]
    return LearningCurve("t", "accuracy", 800, 300, 1, 0.03, points, {model: gain}, [SizeCost(50, 1.0, 0.5)], ["note"])


def test_tables_show_each_point_the_gain_per_doubling_and_costs():
    scores, costs = curve_tables(make_curve())
    assert [row[1].value for row in scores.rows] == [50, 200, 800]
    assert scores.rows[1][2].text == "80.0%"
    assert ("tfidf flattens over 50–800 items: each doubling adds +0.4 pts (90% interval [-0.6 pts, +1.4 pts]); "
            "even the upper end is below the 3 pts margin per doubling") in " ".join(scores.notes)
    assert costs.rows[0][3].value == 1.5


def test_a_curve_not_shown_flat_says_what_each_doubling_still_buys():
    scores, _ = curve_tables(make_curve(gain=RISING))
    note = next(n for n in scores.notes if n.startswith("tfidf"))
    assert "not shown flat" in note and "still buys +5.0 pts (90% interval [+3.0 pts, +7.0 pts])" in note


def test_one_seed_is_not_tested_for_flatness_and_one_size_has_no_gain():
    scores, _ = curve_tables(make_curve(gain=ONE_SEED))
    assert any("--seeds 2 or more" in note and "flattens" not in note for note in scores.notes)
    scores, _ = curve_tables(make_curve(gain=None))
    assert any("no gain per doubling" in note for note in scores.notes)


def test_chart_escapes_model_names_and_marks_only_a_curve_shown_flat():
    svg = curve_chart(make_curve(model="<script>x</script>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="point"') == 3 and 'class="flat-from"' in svg and "flat over 50–800" in svg
    rising = curve_chart(make_curve(gain=RISING))
    assert 'class="flat-from"' not in rising and "+5.0 pts per doubling" in rising


def test_run_curve_reads_the_file_beside_the_summary(tmp_path):
    assert run_curve(tmp_path) is None
    write_curve(make_curve(), tmp_path / "learning_curve.json")
    assert run_curve(tmp_path) == make_curve()
    assert run_curve(tmp_path / "summary.json") == make_curve()


LEARNING_PROBE = """JSON.stringify({
  charts: Array.from(document.querySelectorAll('svg.chart')).map(s => s.id),
  curves: document.querySelectorAll('#chart-learning-curve polyline.curve').length,
  points: Array.from(document.querySelectorAll('#chart-learning-curve circle.point')).map(c => c.getBoundingClientRect().width),
  flat: document.querySelectorAll('#chart-learning-curve line.flat-from').length,
  curveTable: document.querySelectorAll('#table-learning-curve tbody tr').length,
  costTable: document.querySelectorAll('#table-learning-curve-cost tbody tr').length
})"""


def test_report_with_a_curve_renders_its_chart_in_headless_chromium(tmp_path):
    import json
    import shutil

    from distilleval.report.render import render_run
    from tests.report.browser_tools import require_chromium
    from tests.report.headless import open_page
    from tests.ticket_routing_fixture import FIXTURE_DIR

    chromium = require_chromium()
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE_DIR, run_dir)
    write_curve(make_curve(), run_dir / "learning_curve.json")
    page = tmp_path / "report.html"
    page.write_text(render_run(run_dir, "html"), encoding="utf-8")
    run = open_page(chromium, page, probe=LEARNING_PROBE)
    assert run.errors == [] and run.requests == []
    probe = json.loads(run.probe)
    assert probe["charts"][-1] == "chart-learning-curve"
    assert probe["curves"] == 1 and probe["flat"] == 1 and probe["curveTable"] == 3 and probe["costTable"] == 1
    assert len(probe["points"]) == 3 and all(width > 0 for width in probe["points"])
