"""The HTML report: self-contained, escaped, and rendered by real headless Chromium."""

from __future__ import annotations

import re

import pytest

from distilleval.report.render import render_run
from tests.report.browser_tools import require_chromium
from tests.report.headless import open_page
from tests.ticket_routing_fixture import SUMMARY_PATH

PROBE = """JSON.stringify({
  charts: Array.from(document.querySelectorAll('svg.chart')).map(s => s.id),
  costSeries: document.querySelectorAll('#chart-cost polyline.series').length,
  breakEven: document.querySelectorAll('#chart-cost circle.break-even').length,
  intervals: document.querySelectorAll('#chart-accuracy line.interval').length,
  latencyDots: document.querySelectorAll('#chart-latency circle.sample').length,
  classBars: Array.from(document.querySelectorAll('#chart-per-class rect.class-bar')).map(r => r.dataset.label),
  classBarWidths: Array.from(document.querySelectorAll('#chart-per-class rect.class-bar')).map(r => r.getBoundingClientRect().width),
  recallTicks: document.querySelectorAll('#chart-per-class line.recall-tick').length,
  verdictNote: (document.querySelector('#verdict .vnote') || {}).textContent,
  tables: document.querySelectorAll('section.table table').length,
  items: document.querySelectorAll('details.item').length,
  scripts: document.scripts.length,
  images: document.images.length,
  injected: document.querySelectorAll('img, iframe, object, embed, link[rel=stylesheet]').length,
  verdict: document.querySelector('#verdict h2').textContent,
  shown: (function () {
    var box = document.getElementById('item-filter');
    box.value = 't0042'; box.dispatchEvent(new Event('input'));
    return document.getElementById('item-count').textContent;
  })()
})"""


@pytest.fixture(scope="module")
def html_text() -> str:
    return render_run(SUMMARY_PATH, "html")


def test_html_has_no_external_resources(html_text):
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html_text)
    assert "@import" not in html_text and "url(" not in html_text
    assert "Content-Security-Policy" in html_text and "default-src 'none'" in html_text


def test_model_output_is_escaped(html_text):
    # The fixture's outputs carry <img onerror>, </td><script> and an input with <script>.
    assert html_text.count("<script") == 1  # ours, at the end
    assert "<img" not in html_text
    assert "&lt;img src=&quot;http://198.51.100.7/x.png&quot; onerror=&quot;alert(1)&quot;&gt;" in html_text
    assert "billing&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;" in html_text


def test_disagreement_browser_lists_both_directions(html_text):
    assert "Teacher right, student wrong: 2 items" in html_text  # the timed-out item is missing data, not a loss
    assert "Student right, teacher wrong: 1 item" in html_text


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


def test_report_renders_in_headless_chromium(chromium, html_text, tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    page = folder / "report.html"
    page.write_text(html_text, encoding="utf-8")
    run = open_page(chromium, page, probe=PROBE)
    (folder / "report.png").write_bytes(run.screenshot_png)
    assert run.errors == [], run.errors
    assert run.requests == [], run.requests
    import json

    probe = json.loads(run.probe)
    assert probe["charts"] == ["chart-pareto", "chart-cost", "chart-accuracy", "chart-latency", "chart-per-class"]
    # Per-class F1 bars, worst first, every one drawn with a width; the worst classes lead the verdict notes.
    # (account before shipping since the timed-out item is missing data, not a wrong answer)
    assert probe["classBars"] == ["other", "technical", "billing", "account", "shipping", "abuse"]
    assert all(width > 100 for width in probe["classBarWidths"]) and probe["recallTicks"] == 6
    assert probe["classBarWidths"] == sorted(probe["classBarWidths"])
    assert probe["verdictNote"].startswith("Worst classes of Student")
    assert probe["costSeries"] == 2 and probe["breakEven"] == 1
    assert probe["intervals"] == 3
    assert probe["latencyDots"] == 300 + 299  # one dot per timed call
    assert probe["tables"] == 12  # the Pareto front first
    assert probe["items"] == 3  # 2 + 1 disagreements (the timed-out item is missing data)
    assert probe["scripts"] == 1 and probe["images"] == 0 and probe["injected"] == 0
    assert probe["verdict"].startswith("Verdict: Fine-tune")
    assert probe["shown"] == "1 shown"  # the filter box works
    assert run.screenshot_png[:8] == b"\x89PNG\r\n\x1a\n" and len(run.screenshot_png) > 50_000


def test_harness_sees_requests_and_console_errors(chromium, tmp_path):
    # The checks above would be worthless if the harness could not see these: prove it can.
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    "<script>console.error('boom'); undefinedFunction();</script></body></html>", encoding="utf-8")
    run = open_page(chromium, page, settle_s=0.3)
    assert any(url.startswith("http://127.0.0.1:9/") for url in run.requests)
    assert any("boom" in e for e in run.errors)
    assert any("undefinedFunction" in e for e in run.errors)


def test_sparse_summary_still_renders(tmp_path):
    # No per-item results, no latency (all cache hits), no tokens for the student: every
    # renderer still produces a report and says what is missing.
    from tests.ticket_routing_fixture import write_variant

    def sparse(summary):
        summary.items = []
        summary.comparisons = []
        for result in summary.models.values():
            result.latency_ms = None
        summary.models["student"].input_tokens = None

    run = write_variant(tmp_path, sparse)
    html = render_run(run, "html")
    assert "no measured latency" in html and "Teacher right, student wrong: 0 items" in html
    markdown = render_run(run, "md")
    assert "one-time cost not computed: no measured student tokens" in markdown
    assert "## Verdict: Not enough evidence to decide" in markdown
    for fmt in ("csv", "json", "marp", "latex"):
        assert render_run(run, fmt)


def test_baseline_lead_and_long_per_class_chart(tmp_path):
    import dataclasses

    from distilleval.report import compute_figures, load_run
    from distilleval.report.charts import per_class_chart
    from distilleval.results.per_class import ClassResult
    from tests.ticket_routing_fixture import set_scores, write_variant

    # A baseline at 90% meets the fixture's 88% floor: the HTML verdict leads with it.
    run = write_variant(tmp_path, lambda s: set_scores(s, "tfidf_logreg", {item.id for item in s.items[:30]}))
    html = render_run(run, "html")
    assert '<p class="lead">A local baseline meets your floor at ' in html
    assert html.index('class="lead"') < html.index("<ul>", html.index('id="verdict"'))
    # 60 classes: the chart draws the 40 worst, says so, and lists them worst first.
    figures = compute_figures(load_run(SUMMARY_PATH))
    classes = [ClassResult(f"c{n:02d}", 10, 10, 10 - n % 10, 1.0, (10 - n % 10) / 10, None, None, (10 - n % 10) / 10)
               for n in range(60)]
    figures.per_class = dataclasses.replace(figures.per_class, classes=classes)
    svg = per_class_chart(figures)
    assert "the 40 worst of 60 classes" in svg and svg.count('class="class-bar"') == 40
    drawn = re.findall(r'data-label="(c\d\d)"', svg)
    assert [next(c.f1 for c in classes if c.label == label) for label in drawn] == sorted(c.f1 for c in classes)[:40]


def test_disagreements_stream_every_item_count_all_and_keep_the_first(tmp_path):
    from distilleval.report.figures import compute_figures
    from distilleval.report.html import find_disagreements
    from distilleval.report.sources import load_run
    from tests.ticket_routing_fixture import load_fixture, set_scores, write_variant

    def change(summary):
        set_scores(summary, "student", {item.id for item in summary.items[:40]})

    run = write_variant(tmp_path, change)
    found = find_disagreements(compute_figures(load_run(run)), keep=5)
    old = load_fixture()
    change(old)
    expected = [i.id for i in old.items if i.scores.get("teacher") is not None and i.scores["teacher"] >= 1.0
                and i.scores["student"] is not None and i.scores["student"] < 1.0]
    assert found.teacher_only_count == len(expected) > 30
    assert [item.id for item in found.teacher_only] == expected[:5]
    assert found.teacher_only[0] == next(i for i in old.items if i.id == expected[0])
