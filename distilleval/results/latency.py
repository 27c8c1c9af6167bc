"""When a latency figure can be trusted: the client-bound rule.

A call's latency is stamped by the client's event loop. When the client itself is the
bottleneck (too many calls in flight for its CPU, or the machine is busy), answers wait in the
socket until the loop gets to them, and every figure grows by about the loop's lag. The runner
samples that lag while a model's calls are in flight; a model's figures are **client-bound**
when

    loop lag p95  >  LAG_ABSOLUTE_MS + LAG_FRACTION x (the model's latency p50)

that is, when the client's own delay could move the figures by more than the accuracy a latency
claim needs (5 ms plus 10% of the latency itself, the bound a figure is checked against). The
rule compares two figures measured on the same machine in the same run, so it does not depend
on how fast that machine is: a slow laptop with a calm loop is fine, a fast server with a
saturated loop is not. Client-bound figures are reported but never judged by a gate; a latency
probe (few calls at low concurrency) gives figures that are.
"""

from __future__ import annotations

from distilleval.results.summary_json import Distribution

LAG_ABSOLUTE_MS = 5.0
LAG_FRACTION = 0.10


def lag_limit_ms(latency_p50_ms: float) -> float:
    """The loop-lag p95 above which a model with this p50 latency is client-bound."""
    return LAG_ABSOLUTE_MS + LAG_FRACTION * latency_p50_ms


def client_bound_reason(loop_lag: Distribution | None, latency: Distribution | None) -> str | None:
    """Why the figures in ``latency`` are client-bound, or None when they are not (or cannot tell).

    >>> client_bound_reason(Distribution(n=50, p95=30.0), Distribution(n=100, p50=40.0))
    'event-loop lag p95 30.0 ms > 9.0 ms (5 ms + 10% of p50 40.0 ms)'
    >>> client_bound_reason(Distribution(n=50, p95=3.0), Distribution(n=100, p50=40.0)) is None
    True
    """
    if loop_lag is None or latency is None or loop_lag.p95 is None or latency.p50 is None or not loop_lag.n:
        return None
    limit = lag_limit_ms(latency.p50)
    if loop_lag.p95 <= limit:
        return None
    return (f"event-loop lag p95 {loop_lag.p95:.1f} ms > {limit:.1f} ms "
            f"({LAG_ABSOLUTE_MS:g} ms + {LAG_FRACTION:.0%} of p50 {latency.p50:.1f} ms)")
