"""The client-bound rule: loop lag against the model's own latency, the same bound a figure is held to."""

from distilleval.results.latency import client_bound_reason, lag_limit_ms
from distilleval.results.summary_json import Distribution


def _d(p50, p95, n=50):
    return Distribution(n=n, mean=p50, p50=p50, p95=p95, p99=p95)


def test_the_limit_is_5_ms_plus_10_percent_of_the_models_p50():
    assert lag_limit_ms(0) == 5.0
    assert lag_limit_ms(450) == 50.0


def test_the_same_lag_is_client_bound_for_a_fast_model_and_not_for_a_slow_one():
    lag = _d(10, 30)
    assert client_bound_reason(lag, _d(35, 40)) is not None  # 30 > 8.5
    assert client_bound_reason(lag, _d(450, 470)) is None  # 30 <= 50


def test_no_lag_samples_or_no_latency_cannot_make_a_run_client_bound():
    assert client_bound_reason(None, _d(35, 40)) is None
    assert client_bound_reason(_d(100, 200, n=0), _d(35, 40)) is None
    assert client_bound_reason(_d(100, 200), None) is None
