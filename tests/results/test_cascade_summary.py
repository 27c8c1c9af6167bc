"""A run's cascades in summary.json: which items count, what a deferred item pays and waits, when
a cascade cannot be computed, and the routing policy written for a service."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from distilleval.results.build import ModelOutput
from distilleval.results.cascade_summary import cascade_result, routing_policy, thresholds
from distilleval.spec.task_spec import CascadeSpec

SPEC = SimpleNamespace(name="task", cascade_margin=lambda cascade: 0.05 if cascade.margin is None else cascade.margin)


def _outputs(confidences, costs, latencies, failed=()):
    return [ModelOutput(item_id=f"i{n}", text=None if n in failed else "x", error_kind="timeout" if n in failed else None,
                        cost_usd=cost, latency_ms=latency, confidence=confidence)
            for n, (confidence, cost, latency) in enumerate(zip(confidences, costs, latencies))]


def _scores(values):
    return [SimpleNamespace(score=v) for v in values]


def test_failed_calls_are_left_out_and_a_deferred_item_pays_and_waits_for_both():
    first = _outputs([0.92, 0.31, 0.66, 0.12], [1.0, 1.0, 1.0, 1.0], [10.0, 10.0, 10.0, 10.0])
    fallback = _outputs([None] * 4, [100.0, 100.0, 100.0, 100.0], [500.0, 500.0, 500.0, 500.0], failed=(3,))
    scores = {"student": _scores([1.0, 0.0, 0.0, 1.0]), "teacher": _scores([1.0, 1.0, 1.0, None])}
    result = cascade_result(SPEC, CascadeSpec(first="student", fallback="teacher"), {"student": first, "teacher": fallback},
                            scores, ["i0", "i1", "i2", "i3"], {"student": "token_logprobs:mean", "teacher": None})
    assert result.n_items == 3 and result.unavailable is None  # item 3: the fallback's call failed
    at = {point.threshold: point for point in result.curve}
    assert [p.threshold for p in result.curve] == list(thresholds()) and 0.5 in thresholds() and 0.7 in thresholds()
    # At 0.5: item 1 (0.31) is deferred, items 0 (0.92) and 2 (0.66) are kept.
    assert at[0.5].deferral_rate == pytest.approx(1 / 3)
    assert at[0.5].accuracy == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert at[0.5].cost_per_request_usd == pytest.approx((1.0 + 101.0 + 1.0) / 3)
    assert at[0.5].latency_p50_ms == pytest.approx(10.0)
    # At 0.7 items 1 and 2 are deferred: two of three waited for both calls.
    assert at[0.7].latency_p50_ms == pytest.approx(510.0) and at[0.7].deferral_rate == pytest.approx(2 / 3)
    assert at[0.0].deferral_rate == 0.0 and at[1.0].deferral_rate == 1.0


def test_an_answer_without_confidence_is_always_deferred():
    first = _outputs([None, 0.99], [1.0, 1.0], [1.0, 1.0])
    fallback = _outputs([None, None], [2.0, 2.0], [1.0, 1.0])
    result = cascade_result(SPEC, CascadeSpec(first="student", fallback="teacher"), {"student": first, "teacher": fallback},
                            {"student": _scores([1.0, 1.0]), "teacher": _scores([0.0, 0.0])}, ["i0", "i1"],
                            {"student": "token_logprobs:mean"})
    assert result.curve[0].threshold == 0.0 and result.curve[0].deferral_rate == 0.5


@pytest.mark.parametrize("outputs, bases, reason", [
    ({"student": []}, {"student": "token_logprobs:mean"}, "teacher not called in this run"),
    ({"student": [], "teacher": []}, {"student": None}, "student gave no confidence"),
])
def test_a_cascade_that_cannot_be_computed_says_why(outputs, bases, reason):
    result = cascade_result(SPEC, CascadeSpec(first="student", fallback="teacher"), outputs,
                            {name: [] for name in outputs}, [], bases)
    assert result.unavailable.startswith(reason) and result.curve == [] and result.chosen is None


def test_the_routing_policy_names_models_rule_threshold_and_guarantee():
    n = 200
    first = _outputs([0.95] * n, [1.0] * n, [1.0] * n)
    fallback = _outputs([None] * n, [9.0] * n, [1.0] * n)
    scores = {"student": _scores([1.0] * n), "teacher": _scores([1.0] * n)}
    result = cascade_result(SPEC, CascadeSpec(first="student", fallback="teacher", delta=0.1, margin=0.3),
                            {"student": first, "teacher": fallback}, scores, [f"i{k}" for k in range(n)],
                            {"student": "token_logprobs:mean"})
    models = {"student": SimpleNamespace(model="openai/s"), "teacher": SimpleNamespace(model="openai/t")}
    policy = routing_policy(SPEC, result, models)
    assert policy["first"] == {"name": "student", "model": "openai/s"}
    assert policy["fallback"] == {"name": "teacher", "model": "openai/t"}
    assert policy["threshold"] == result.chosen.threshold and policy["guarantee_met"] is result.chosen.guarantee_met
    assert policy["confidence"]["basis"] == "token_logprobs:mean" and policy["margin"] == 0.3 and policy["delta"] == 0.1
    # The student is always right and always sure: with a wide margin, a threshold that keeps its answers is found.
    assert result.chosen.guarantee_met and result.chosen.deferral_rate == 0.0
    assert result.chosen.calibration_items + result.chosen.test_items == n
