"""The Pareto front as a table in every format and a chart in the HTML report, the recommendation first."""

from __future__ import annotations

import json

from distilleval.report.render import render_run
from tests.ticket_routing_fixture import SUMMARY_PATH, set_scores, write_variant

RECOMMENDATION = "Recommended: Student: Qwen3-8B LoRA (Tinker) — the cheapest arm shown good enough"


def test_markdown_leads_the_verdict_with_the_recommendation_and_tables_the_front():
    text = render_run(SUMMARY_PATH, "md")
    verdict = text.index("## Verdict")
    assert text.index(RECOMMENDATION) - verdict < 120  # first thing under the heading
    assert text.index(RECOMMENDATION) < text.index("**teacher validity**")
    assert "## The Pareto front: accuracy against monthly cost, every arm" in text
    assert "| Baseline: TF-IDF + logistic regression | 85.0% [80.4%, 88.8%] |" in text


def test_json_carries_the_decision_block_and_the_recommendation():
    report = json.loads(render_run(SUMMARY_PATH, "json"))
    decision = report["decision"]
    assert decision["recommendation"]["arm"] == "Student: Qwen3-8B LoRA (Tinker)"
    assert decision["recommendation"]["text"].startswith(RECOMMENDATION)
    assert decision["pareto"] == ["Baseline: TF-IDF + logistic regression", "Student: Qwen3-8B LoRA (Tinker)",
                                  "Teacher, list price"]
    assert [a["dominated"] for a in decision["arms"]] == [False, False, False]
    pareto = next(t for t in report["tables"] if t["key"] == "pareto")
    assert pareto["columns"][-2:] == ["Dominated", "Judgement"]


def test_a_dominated_arm_is_marked_in_csv_latex_and_marp(tmp_path):
    # The baseline made as accurate as the teacher: the teacher (dearer, no more accurate) is dominated.
    def change(summary):
        set_scores(summary, "tfidf_logreg", {item.id for item in summary.items if summary.items[0] is item})
        set_scores(summary, "teacher", {item.id for item in summary.items[:22]})

    run = write_variant(tmp_path, change)
    csv_text = render_run(run, "csv")
    assert "pareto,\"Teacher, list price\",Dominated,dominated,True" in csv_text
    assert "verdict,recommendation,non-inferiority," in csv_text
    assert "dominated" in render_run(run, "latex")
    marp = render_run(run, "marp")
    assert "# The Pareto front: accuracy against monthly cost, every arm" in marp


def test_html_draws_the_front_with_an_interval_per_arm():
    html = render_run(SUMMARY_PATH, "html")
    chart = html[html.index('<svg class="chart" id="chart-pareto"'):]
    chart = chart[:chart.index("</svg>")]
    assert "<title>The Pareto front: accuracy against monthly cost, every arm</title>" in chart
    assert chart.count('class="interval"') == 3 and chart.count("<circle") == 3
    assert chart.count(' recommended"') == 1 and "(log scale)" in chart  # $0.18 to $99,150 a month: decades apart
    assert html.index('class="lead recommendation"') < html.index("teacher validity")
