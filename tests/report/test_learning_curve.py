"""The learning-curve report section: its tables, its chart, and where the report finds it."""

from __future__ import annotations

from distilleval.report.learning_curve import curve_chart, curve_tables, run_curve
from distilleval.results.learning_curve import CurvePoint, LearningCurve, SizeCost, write_curve


def make_curve(model: str = "tfidf", flat: int | None = 200) -> LearningCurve:
    points = [CurvePoint.of(model, size, [score], 300) for size, score in ((50, 0.5), (200, 0.8), (800, 0.82))]
    return LearningCurve("t", "accuracy", 800, 300, 1, 0.03, points, {model: flat}, [SizeCost(50, 1.0, 0.5)], ["note"])


def test_tables_show_each_point_the_flattening_size_and_costs():
    scores, costs = curve_tables(make_curve())
    assert [row[1].value for row in scores.rows] == [50, 200, 800]
    assert scores.rows[1][2].text == "80.0%"
    assert any("flattens from 200 items" in note for note in scores.notes)
    assert costs.rows[0][3].value == 1.5


def test_a_curve_still_rising_says_more_labels_would_help():
    scores, _ = curve_tables(make_curve(flat=800))
    assert any("still rising" in note for note in scores.notes)


def test_chart_escapes_model_names_and_marks_the_flattening_size():
    svg = curve_chart(make_curve(model="<script>x</script>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="point"') == 3 and 'class="flat-from"' in svg


def test_run_curve_reads_the_file_beside_the_summary(tmp_path):
    assert run_curve(tmp_path) is None
    write_curve(make_curve(), tmp_path / "learning_curve.json")
    assert run_curve(tmp_path) == make_curve()
    assert run_curve(tmp_path / "summary.json") == make_curve()
