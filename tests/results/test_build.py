"""Tests for distilleval.results.build.build_summary."""

from __future__ import annotations

import json

import pytest

from distilleval.costs.pricing import load_pricing
from distilleval.results.build import ModelOutput, ModelRun, build_summary, comparison_pairs, distribution
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import LatencyFigures, read_summary, write_summary
from distilleval.scoring import build_scorer
from distilleval.spec.data import load_items
from distilleval.spec.task_spec import load_spec

LABELS = ["pos", "neg"]


def write_spec(tmp_path, golds, *, output="{kind: label, labels: [pos, neg]}", scorer="exact_match", margin=0.05):
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i, gold in enumerate(golds):
            handle.write(json.dumps({"id": f"i{i}", "text": f"t{i}", "gold": gold, "split": "eval"}) + "\n")
    (tmp_path / "spec.yaml").write_text(
        f"""
name: demo
data: {{path: data.jsonl, input: {{text: text}}, gold: gold, id: id, split: {{column: split}}}}
output: {output}
scorer: {scorer}
teacher: {{model: openai/gpt-5.2, prompt: "{{text}}"}}
student: {{model: "tinker://s", prompt: "{{text}}"}}
gates: {{non_inferiority_margin: {margin}}}
""",
        encoding="utf-8",
    )
    spec = load_spec(tmp_path / "spec.yaml")
    return spec, sorted(load_items(spec), key=lambda item: item.line)  # file order, as the tests list outputs


def summarize(spec, items, runs, **options):
    """``build_summary`` with the spec's own scorer, closed afterwards (as the pipelines do)."""
    with build_scorer(spec) as scorer:
        return build_summary(spec, items, runs, scorer=scorer, **options)


def outputs_from(items, texts, **extra):
    return [ModelOutput(item_id=item.id, text=text, **extra) for item, text in zip(items, texts)]


def known_pattern():
    """100 items: 80 both right, 10 teacher only, 3 student only, 7 both wrong."""
    teacher = [True] * 80 + [True] * 10 + [False] * 3 + [False] * 7
    student = [True] * 80 + [False] * 10 + [True] * 3 + [False] * 7
    return teacher, student


def test_paired_comparison_reproduces_the_known_values(tmp_path):
    spec, items = write_spec(tmp_path, ["pos"] * 100)
    teacher, student = known_pattern()
    runs = [
        ModelRun("teacher", "teacher", "openai/gpt-5.2", outputs_from(items, ["pos" if r else "neg" for r in teacher])),
        ModelRun("student", "student", "tinker://s", outputs_from(items, ["pos" if r else "neg" for r in student])),
    ]
    summary = summarize(spec, items, runs, pricing=load_pricing(), run_id="r1")
    assert summary.models["teacher"].metric.value == 0.90
    assert summary.models["student"].metric.value == 0.83
    low, high = summary.models["student"].metric.ci_low, summary.models["student"].metric.ci_high
    # Clopper-Pearson for 83 of 100 (R's binom.test gives 0.7418, 0.8977).
    assert (round(low, 4), round(high, 4)) == (0.7418, 0.8977)
    (comparison,) = summary.comparisons
    assert (comparison.a, comparison.b) == ("teacher", "student")
    assert comparison.difference == pytest.approx(-0.07)
    assert round(comparison.mcnemar_p, 4) == 0.0923
    verdict = comparison.non_inferiority
    assert verdict.margin == 0.05 and verdict.lower_bound == pytest.approx(-0.1410, abs=0.0005)
    assert verdict.non_inferior is False and verdict.decision == "inconclusive"
    assert comparison.agreement == pytest.approx(0.87)


def test_the_kappa_written_into_summary_json_is_cohens_kappa(tmp_path):
    # known_pattern as outputs: teacher pos 90 / neg 10, student pos 83 / neg 17, 87 agree.
    # Chance agreement 0.90 * 0.83 + 0.10 * 0.17 = 0.764, so kappa = (0.87 - 0.764) / 0.236 = 53/118.
    spec, items = write_spec(tmp_path, ["pos"] * 100)
    teacher, student = known_pattern()
    runs = [
        ModelRun("teacher", "teacher", "openai/gpt-5.2", outputs_from(items, ["pos" if r else "neg" for r in teacher])),
        ModelRun("student", "student", "tinker://s", outputs_from(items, ["pos" if r else "neg" for r in student])),
    ]
    write_summary(summarize(spec, items, runs, pricing=load_pricing(), run_id="k1"), tmp_path / "out" / "summary.json")
    (written,) = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["comparisons"]
    assert written["agreement"] == pytest.approx(0.87)
    assert written["kappa"] == pytest.approx(53 / 118)


def test_errors_invalid_cache_hits_latency_and_cost(tmp_path):
    spec, items = write_spec(tmp_path, ["pos", "neg", "pos", "neg"])
    outputs = [
        ModelOutput("i0", "pos", input_tokens=10, output_tokens=1, latency_ms=100.0, cost_usd=0.01),
        ModelOutput("i1", "maybe", input_tokens=10, output_tokens=1, latency_ms=300.0, cost_usd=0.01),
        ModelOutput("i2", "pos", input_tokens=10, output_tokens=1, latency_ms=1.0, cost_usd=0.01, cache_hit=True),
        # i3 is missing from the outputs altogether.
    ]
    summary = summarize(spec, items, [ModelRun("teacher", "teacher", "m", outputs)],
                            pricing=load_pricing(), run_id="r2")
    result = summary.models["teacher"]
    assert result.n == 4 and result.errors == {"missing": 1} and result.error_rate == 0.25
    assert result.invalid_rate == pytest.approx(1 / 3)
    # A failed (here missing) call is missing data, not a wrong answer: the accuracy is over the
    # 3 answered items, and the failure is counted as an error, not as a scoring reason.
    assert result.metric.value == pytest.approx(2 / 3) and result.n_scored == 3
    assert result.latency_ms.n == 2 and result.latency_ms.mean == 200.0  # the cache hit is excluded
    assert result.cache_hits == 1
    assert result.cost_per_request_usd == pytest.approx(0.01)
    assert result.spent_usd == pytest.approx(0.02)  # the cache hit cost nothing
    assert result.reasons == {"invalid_label": 1}
    assert result.confusion == {"pos": {"pos": 2}, "neg": {"INVALID": 1}}
    missing = next(item for item in summary.items if item.id == "i3")
    assert missing.errors == {"teacher": "missing"} and missing.scores == {"teacher": None}
    assert summary.comparisons == []


def test_baselines_are_compared_against_the_teacher():
    runs = [ModelRun("student", "student", "s", []), ModelRun("teacher", "teacher", "t", []),
            ModelRun("tfidf", "baseline", "b", [])]
    assert comparison_pairs(runs) == [("teacher", "student"), ("teacher", "tfidf")]
    assert comparison_pairs([ModelRun("a", "other", "a", []), ModelRun("b", "other", "b", [])]) == [("a", "b")]


def test_json_task_uses_the_bootstrap_for_micro_f1(tmp_path):
    golds = [json.dumps({"name": f"n{i}", "total": i}) for i in range(30)]
    spec, items = write_spec(tmp_path, golds, output="{kind: json}", scorer="json_fields")
    teacher = [g for g in golds]
    student = [json.dumps({"name": f"n{i}", "total": i if i % 3 else -1}) for i in range(30)]
    runs = [ModelRun("teacher", "teacher", "t", outputs_from(items, teacher)),
            ModelRun("student", "student", "s", outputs_from(items, student))]
    summary = summarize(spec, items, runs, pricing=load_pricing(), run_id="r3", n_resamples=500)
    assert summary.primary_metric == "field_f1"
    assert summary.models["teacher"].metric.value == 1.0
    # 10 of 60 fields wrong: TP=50, FP=10, FN=10 -> F1 = 100/120.
    assert summary.models["student"].metric.value == pytest.approx(100 / 120)
    (comparison,) = summary.comparisons
    assert comparison.difference == pytest.approx(100 / 120 - 1)
    assert comparison.mcnemar_p is None  # item F1s are not 0/1
    assert "bootstrap" in comparison.non_inferiority.method
    assert comparison.non_inferiority.non_inferior is False


def test_summary_round_trips_through_summary_json(tmp_path):
    spec, items = write_spec(tmp_path, ["pos", "neg"])
    runs = [ModelRun("teacher", "teacher", "t", outputs_from(items, ["pos", "neg"])),
            ModelRun("student", "student", "s", outputs_from(items, ["pos", "pos"]))]
    summary = summarize(spec, items, runs, pricing=load_pricing(), run_id="r4", mode="offline")
    write_summary(summary, tmp_path / "out" / "summary.json")
    again = read_summary(tmp_path / "out")
    # The per-item rows come back from the item store (summary.json holds only the pointer).
    assert again.items == [] and again.item_store is not None and again.item_store.rows == len(items)
    assert list(iter_items(again)) == summary.items
    assert again.model_dump(exclude={"items", "item_store"}) == summary.model_dump(exclude={"items", "item_store"})
    assert again.spec.sha256 == spec.source_sha256 and again.pricing.as_of == "2026-02-01"


def test_duplicate_model_names_are_rejected(tmp_path):
    spec, items = write_spec(tmp_path, ["pos"])
    runs = [ModelRun("x", "other", "a", []), ModelRun("x", "other", "b", [])]
    with pytest.raises(ValueError, match="unique"):
        summarize(spec, items, runs, pricing=load_pricing(), run_id="r5")


def test_distribution_percentiles():
    result = distribution([float(v) for v in range(1, 101)])
    assert result.n == 100 and result.mean == 50.5 and result.p50 == 50.5
    assert distribution([]) is None


def test_answers_cut_at_max_tokens_are_counted_as_truncated_and_judged_on_their_content(tmp_path):
    spec, items = write_spec(tmp_path, ["pos"] * 4)
    outputs = [
        ModelOutput(items[0].id, "pos", finish_reason="stop"),
        ModelOutput(items[1].id, "po", finish_reason="length"),  # cut mid-label: not a label, so invalid
        ModelOutput(items[2].id, "banana", finish_reason="stop"),  # an invalid label, not cut
        ModelOutput(items[3].id, "pos", finish_reason="length"),  # cut after a complete answer: still right
    ]
    summary = summarize(spec, items, [ModelRun("student", "student", "tinker://s", outputs)],
                        pricing=load_pricing(None), run_id="r")
    student = summary.models["student"]
    assert student.truncated == 2
    assert student.metric.value == 0.5  # the cut wrong answer still counts as wrong
    assert student.invalid_rate == pytest.approx(2 / 4)  # "po" and "banana"
    assert student.truncated_invalid == 1  # "po": the one more max_tokens might have saved
    assert student.reasons == {"invalid_label": 2}  # each answer's own reason, never "truncated"
    assert [item.reached_max_tokens for item in summary.items] == [[], ["student"], [], ["student"]]
    assert summary.items[3].scores["student"] == 1.0 and "student" not in summary.items[3].reasons


def test_a_wrong_label_cut_at_max_tokens_keeps_its_reason(tmp_path):
    spec, items = write_spec(tmp_path, ["pos", "neg"])
    outputs = [ModelOutput(items[0].id, "neg", finish_reason="length"), ModelOutput(items[1].id, "neg", finish_reason="length")]
    summary = summarize(spec, items, [ModelRun("student", "student", "tinker://s", outputs)],
                        pricing=load_pricing(None), run_id="r")
    student = summary.models["student"]
    assert (student.metric.value, student.reasons, student.truncated, student.truncated_invalid) == (0.5, {"wrong_label": 1}, 2, 0)
    assert summary.items[0].reasons["student"] == "wrong_label"


def test_invalid_is_one_figure_in_the_summary_the_metrics_and_the_confusion_matrix(tmp_path):
    # Issue 26 item 3: with answers cut at max_tokens outside the label set, summary.json said 0%
    # invalid while the metrics and the confusion matrix said 100%. Invalid is one thing: an
    # answered item whose output is not a valid output of the spec's kind, over the answered items.
    spec, items = write_spec(tmp_path, ["pos", "neg"] * 5)
    texts = ["pos", "neg", "Positive review", "ne", "pos", "pos", "maybe", "neg", None, "po"]
    finish = ["stop", "stop", "length", "length", "length", "stop", "stop", "length", None, "length"]
    outputs = [
        ModelOutput(item.id, text, finish_reason=reason, error_kind="timeout" if text is None else None)
        for item, text, reason in zip(items, texts, finish)
    ]
    student = summarize(spec, items, [ModelRun("student", "student", "tinker://s", outputs)],
                        pricing=load_pricing(None), run_id="r").models["student"]
    answered, invalid = 9, 4  # the timeout is a failed call, not an answer; invalid: "Positive review", "ne", "maybe", "po"
    in_matrix = sum(row.get("INVALID", 0) for row in student.confusion.values())
    assert (student.invalid_rate, student.metrics["invalid_rate"], in_matrix / answered) == (
        pytest.approx(invalid / answered),) * 3
    assert student.truncated == 5


def test_latency_context_cached_originals_client_bound_and_probe_spend(tmp_path):
    spec, items = write_spec(tmp_path, ["pos"] * 4)
    made = [ModelOutput(item.id, "pos", latency_ms=40.0 + i, cost_usd=0.01) for i, item in enumerate(items[:2])]
    cached = [ModelOutput(item.id, "pos", latency_ms=500.0, cost_usd=0.01, cache_hit=True) for item in items[2:]]
    lag = distribution([30.0] * 20)
    context = LatencyFigures(concurrency=64, loop_lag_ms=lag, unloaded_ms=distribution([36.0, 37.0]),
                             unloaded_concurrency=1, probe_spent_usd=0.02)
    run = ModelRun("student", "student", "tinker://s", made + cached, latency=context)
    student = summarize(spec, items, [run], pricing=load_pricing(None), run_id="r").models["student"]
    assert student.latency_ms.n == 2 and student.latency_ms.p50 == pytest.approx(40.5)
    assert student.latency.original_ms.n == 2 and student.latency.original_ms.p50 == 500.0
    assert student.latency.client_bound  # lag p95 30 ms > 5 ms + 10% of 40.5 ms
    assert "30.0 ms > 9.1 ms" in student.latency.client_bound_reason
    assert student.spent_usd == pytest.approx(0.02 + 0.02)  # two calls made plus the probe
    assert not student.latency.unloaded_client_bound  # the probe recorded no lag: nothing says it was
    calm = ModelRun("student", "student", "tinker://s", made, latency=LatencyFigures(
        loop_lag_ms=distribution([1.0] * 20), unloaded_ms=distribution([36.0, 37.0]), unloaded_loop_lag_ms=distribution([20.0] * 5)))
    calm_latency = summarize(spec, items, [calm], pricing=load_pricing(None), run_id="r").models["student"].latency
    assert not calm_latency.client_bound
    assert calm_latency.unloaded_client_bound  # a busy machine lags even at concurrency 1: 20 > 5 + 3.65


def test_failed_calls_are_missing_data_and_the_comparison_pairs_only_items_both_answered(tmp_path):
    # Issue 19, case 1: the teacher fails (rate limited) on 40 of 100 items, all of which it
    # would have got right; the student is right on 90. Scoring failures as wrong answers would
    # make the teacher 60% and the student "30 points better".
    spec, items = write_spec(tmp_path, ["pos"] * 100)
    teacher = [ModelOutput(item.id, None, error_kind="rate_limited") if i % 5 in (0, 1) else ModelOutput(item.id, "pos")
               for i, item in enumerate(items)]
    student = outputs_from(items, ["neg" if i % 10 == 9 else "pos" for i in range(100)])
    summary = summarize(spec, items, [ModelRun("teacher", "teacher", "t", teacher), ModelRun("student", "student", "s", student)],
                        pricing=load_pricing(), run_id="r")
    result = summary.models["teacher"]
    assert result.metric.value == 1.0 and result.n_scored == 60
    assert result.errors == {"rate_limited": 40} and result.error_rate == 0.4 and result.failed_calls == 40
    (comparison,) = summary.comparisons
    # The student is wrong on items 9, 19, ..., 99 (i % 5 == 4): all 10 are among the 60 both
    # answered, so on those the student is 10/60 worse, not 30 points better.
    assert comparison.n_paired == 60 and comparison.dropped_failed == 40
    assert comparison.difference == pytest.approx(-10 / 60)
    assert comparison.discordant == {"a_only": 10, "b_only": 0}
    assert comparison.agreement == pytest.approx(50 / 60)
    assert summary.items[0].scores["teacher"] is None and summary.items[0].errors == {"teacher": "rate_limited"}


def test_latency_is_over_answered_calls_only(tmp_path):
    spec, items = write_spec(tmp_path, ["pos"] * 3)
    outputs = [ModelOutput("i0", "pos", latency_ms=400.0), ModelOutput("i1", "pos", latency_ms=600.0),
               ModelOutput("i2", None, error_kind="rate_limited", latency_ms=3.0)]  # a fast 429 is no answer
    summary = summarize(spec, items, [ModelRun("student", "student", "s", outputs)], pricing=load_pricing(), run_id="r")
    latency = summary.models["student"].latency_ms
    assert (latency.n, latency.mean) == (2, 500.0)


class _GeneralPath:
    """The spec's scorer behind a wrapper that hands on every attribute: the builder finds no
    ``score_rows`` on its class, so it scores through ``score_items`` (the general path)."""

    def __init__(self, scorer):
        self.scorer = scorer

    def __getattr__(self, name):
        return getattr(self.scorer, name)


def test_the_exact_match_fast_path_gives_the_rows_and_columns_of_the_general_path(tmp_path):
    import dataclasses

    from distilleval.results.build import OutputChunk, SummaryBuilder
    from distilleval.results.columns import OutputColumns, ScoreColumns

    golds = ["pos", "neg", "pos", "neg", "pos", "neg", "pos"]
    spec, items = write_spec(tmp_path, golds, scorer="{kind: exact_match, normalize: {case: true}, "
                                                     "aliases: {pos: [positive]}}")
    outputs = [
        ModelOutput(item_id="i0", text="POS", latency_ms=120.0, confidence=0.9, confidence_basis="class_probability"),
        ModelOutput(item_id="i1", text="Positive", latency_ms=80.0, cache_hit=True),
        ModelOutput(item_id="i2", text=None, error_kind="timeout", latency_ms=30000.0, confidence=0.2),
        ModelOutput(item_id="i3", text="ne", finish_reason="length", input_tokens=5, output_tokens=9, cost_usd=0.1),
        ModelOutput(item_id="i4", text="ne", error_kind="expired", error_reason="the batch ended"),
        ModelOutput(item_id="i5", text=None, error_kind="missing"),
        ModelOutput(item_id="i6", text="pos", finish_reason="length", latency_ms=33.0),
    ]
    runs = [ModelRun(name="student", role="student", model="m", outputs=[])]
    built = {}
    with build_scorer(spec) as scorer:
        for path, used in (("fast", scorer), ("general", _GeneralPath(scorer))):
            builder = SummaryBuilder(runs, used)
            given = OutputChunk.of(outputs) if path == "fast" else outputs
            rows = builder.add(items, {"student": given})
            built[path] = (list(rows), rows.block(), list(builder.scores["student"]), list(builder.outputs["student"]))
        # What the builder kept, against the records themselves (a failed call's score an exclusion).
        texts = [None if o.error_kind else o.text for o in outputs]
        expected_scores = ScoreColumns()
        expected_scores.extend([dataclasses.replace(s, score=None, valid=False, reason=None, canonical=None,
                                                    counts=None) if o.error_kind else s
                                for o, s in zip(outputs, scorer.score_items(texts, items))])
    expected_outputs = OutputColumns(ModelOutput)
    expected_outputs.extend(outputs)
    assert built["fast"] == built["general"]
    rows, _, scores, kept = built["fast"]
    assert scores == list(expected_scores) and kept == list(expected_outputs)
    # The rows: latency of calls made (no cache hit), confidence and truncation of answered calls only.
    assert rows[0].scores == {"student": 1.0} and rows[0].latency_ms == {"student": 120.0}
    assert rows[0].confidence == {"student": 0.9}
    assert rows[1].scores == {"student": 0.0} and rows[1].latency_ms == {} and rows[1].reasons == {"student": "wrong_label"}
    assert rows[2].scores == {"student": None} and rows[2].errors == {"student": "timeout"} and rows[2].confidence == {}
    assert rows[3].reasons == {"student": "invalid_label"} and rows[3].reached_max_tokens == ["student"]
    assert rows[4].outputs == {"student": "ne"} and rows[4].reached_max_tokens == []
    assert rows[6].reached_max_tokens == ["student"] and rows[6].gold == "pos" and rows[6].input_preview == "t6"
