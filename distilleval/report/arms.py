"""Every arm of the decision, side by side: accuracy, cost, cost of errors, and which arms are dominated.

An arm is one way the task could be served: the teacher at list price, with its rubric cached
or at the batch tier (``Figures.teacher_options``: the configurations the pricing table and the
traffic honestly allow), each prompted candidate, the student, each local baseline, and each
cascade's chosen operating point (``summary.cascades[i].chosen``, reported on its test items).
Every figure comes from the run's figures; an arm whose accuracy or cost is unknown is listed
with the gap, never guessed.

An arm is dominated when another arm is at least as accurate (point estimates) and costs no
more per request, and is strictly better in one of the two. The Pareto front is the arms that
are not dominated, cheapest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distilleval.costs import cost_model
from distilleval.report.figures import Figures, ModelRow
from distilleval.results.error_cost import ErrorCost, matrix_error_cost, scalar_error_cost

ARM_KINDS = ("teacher", "candidate", "student", "baseline", "cascade")
_MODEL_KINDS = {"teacher": "teacher", "student": "student", "baseline": "baseline", "candidate": "candidate",
                "other": "candidate"}


@dataclass(frozen=True)
class Arm:
    """One arm of the decision.

    Attributes:
        name: how tables name it (``Teacher, batch tier``, ``Student: qwen3-8b``, a cascade's name).
        kind: ``teacher``, ``candidate``, ``student``, ``baseline`` or ``cascade``.
        key: the model's key in ``summary.models`` (a cascade: its first model's key).
        accuracy: the primary metric over the arm's scored items (a cascade: its test items).
        ci_low: lower end of the metric's interval.
        ci_high: upper end.
        cost_per_request_usd: inference cost of one request.
        basis: ``measured`` or ``projected``.
        monthly_usd: requests per day -> inference cost per month.
        error_cost: the expected cost of wrong answers per request, when the spec prices them.
        detail: what else defines it (the teacher configuration, a cascade's threshold).
        cascade: the cascade's ``chosen`` block, for cascades.
    """

    name: str
    kind: str
    key: str | None
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    cost_per_request_usd: float | None
    basis: str
    monthly_usd: dict[int, float] = field(default_factory=dict)
    error_cost: ErrorCost | None = None
    detail: str = ""
    cascade: dict[str, Any] | None = None

    def total_monthly_usd(self, requests_per_day: int, days_per_month: float) -> tuple[float, float, float] | None:
        """``(point, low, high)`` monthly inference plus wrong answers; None when either is unknown."""
        if self.error_cost is None or self.cost_per_request_usd is None:
            return None
        inference = cost_model.monthly_cost_usd(self.cost_per_request_usd, requests_per_day, days_per_month)
        point, low, high = self.error_cost.monthly(requests_per_day, days_per_month)
        return inference + point, inference + low, inference + high


@dataclass(frozen=True)
class ArmTable:
    """The arms with their dominance, in the order built (teacher configurations first)."""

    arms: list[Arm]
    dominated: dict[str, bool | None]
    volumes_per_day: list[int]
    days_per_month: float

    @property
    def pareto(self) -> list[Arm]:
        """The arms no other arm dominates (known accuracy and cost), cheapest first."""
        front = [a for a in self.arms if self.dominated.get(a.name) is False]
        return sorted(front, key=lambda a: (a.cost_per_request_usd, -(a.accuracy or 0.0)))


def _metric_parts(row: ModelRow) -> tuple[float | None, float | None, float | None]:
    metric = row.result.metric
    if metric is None:
        return None, None, None
    return metric.value, metric.ci_low, metric.ci_high


def _monthly(cost: float | None, f: Figures) -> dict[int, float]:
    if cost is None:
        return {}
    return {volume: cost_model.monthly_cost_usd(cost, volume, f.days_per_month) for volume in f.volumes_per_day}


def _error_cost(f: Figures, accuracy: float | None, low: float | None, high: float | None,
                confusion: dict[str, dict[str, int]] | None) -> ErrorCost | None:
    """The arm's wrong answers priced by the spec's ``decision.cost_per_error_usd`` (None: not priced or unknown)."""
    spec = f.inputs.spec
    price = spec.decision.cost_per_error_usd if spec is not None else None
    if price is None or accuracy is None:
        return None
    if isinstance(price, (int, float)):
        return scalar_error_cost(float(price), accuracy, low, high)
    if not confusion:
        return None
    return matrix_error_cost(confusion, price.cost, price.price_levels_usd)


def _model_arm(f: Figures, row: ModelRow, *, name: str | None = None, cost: float | None = None,
               detail: str = "") -> Arm:
    from distilleval.report.figures import _confusion

    accuracy, low, high = _metric_parts(row)
    cost = row.cost_per_request_usd if cost is None else cost
    confusion = _confusion(row, f.inputs) if accuracy is not None and _priced_by_matrix(f) else None
    kind = _MODEL_KINDS[row.result.role]
    label = name or (row.result.display_name if kind == "candidate" else f"{kind.capitalize()}: {row.result.display_name}")
    return Arm(label, kind, row.key, accuracy, low, high, cost, row.result.basis, _monthly(cost, f),
               _error_cost(f, accuracy, low, high, confusion), detail)


def _priced_by_matrix(f: Figures) -> bool:
    spec = f.inputs.spec
    return spec is not None and spec.decision.cost_per_error_usd is not None and not isinstance(
        spec.decision.cost_per_error_usd, (int, float))


def _teacher_arms(f: Figures) -> list[Arm]:
    teacher = f.teacher
    if teacher is None:
        return []
    if not f.teacher_options:
        return [_model_arm(f, teacher, name="Teacher", detail="as recorded")]
    names = {"list": "Teacher, list price", "prompt_cache": "Teacher, prompt cache", "batch": "Teacher, batch tier"}
    return [_model_arm(f, teacher, name=names.get(option.key, f"Teacher, {option.key}"),
                       cost=option.cost_per_request_usd, detail=option.label)
            for option in f.teacher_options]


def as_mapping(value: Any) -> dict[str, Any]:
    """A summary block as a plain mapping (a pydantic model or a dict)."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return dict(value)


def run_cascades(f: Figures) -> list[dict[str, Any]]:
    """The run's cascades (``summary.cascades``) as plain mappings; empty when the run has none."""
    return [as_mapping(c) for c in (getattr(f.summary, "cascades", None) or [])]


def _cascade_arm(f: Figures, cascade: dict[str, Any]) -> Arm:
    chosen = as_mapping(cascade.get("chosen") or {})
    name = str(cascade.get("name") or f"{cascade.get('first')}→{cascade.get('fallback')}")
    threshold = chosen.get("threshold")
    accuracy = chosen.get("test_accuracy") if threshold is not None else None
    interval = chosen.get("test_accuracy_interval") or (None, None)
    low, high = (interval[0], interval[1]) if accuracy is not None else (None, None)
    cost = chosen.get("cost_per_request_usd") if threshold is not None else None
    if cascade.get("unavailable"):
        detail = f"not computed: {cascade['unavailable']}"
    elif threshold is None:
        detail = "no threshold meets the guarantee on the calibration items"
    else:
        detail = (f"threshold {threshold:g}, defers {chosen.get('deferral_rate', 0):.0%} to {cascade.get('fallback')}; "
                  f"{chosen.get('test_items', '?')} test items")
    spec = f.inputs.spec
    price = spec.decision.cost_per_error_usd if spec is not None else None
    # A cascade's confusion is not recorded, so only a single price per error can be carried to it.
    error = scalar_error_cost(float(price), accuracy, low, high) if isinstance(price, (int, float)) and accuracy is not None else None
    first = f.summary.models.get(str(cascade.get("first")))
    basis = "measured" if first is None or first.basis == "measured" else first.basis
    return Arm(name, "cascade", str(cascade.get("first")), accuracy, low, high, cost, basis, _monthly(cost, f),
               error, detail, cascade=dict(cascade, chosen=chosen))


def dominance(arms: list[Arm]) -> dict[str, bool | None]:
    """Arm name -> dominated (True), on the front (False), or unknown (None: accuracy or cost missing).

    >>> a = Arm("a", "student", "s", 0.9, None, None, 1.0, "measured")
    >>> b = Arm("b", "teacher", "t", 0.9, None, None, 2.0, "measured")
    >>> dominance([a, b])
    {'a': False, 'b': True}
    """
    known = [(a, accuracy, cost) for a in arms
             if (accuracy := a.accuracy) is not None and (cost := a.cost_per_request_usd) is not None]
    result: dict[str, bool | None] = {a.name: None for a in arms}
    for arm, accuracy, cost in known:
        result[arm.name] = any(
            other is not arm and other_accuracy >= accuracy and other_cost <= cost
            and (other_accuracy > accuracy or other_cost < cost)
            for other, other_accuracy, other_cost in known
        )
    return result


def build_arms(f: Figures) -> ArmTable:
    """Every arm of the run (module docstring) with its dominance."""
    arms = _teacher_arms(f)
    order = {"candidate": 0, "student": 1, "baseline": 2}
    others = sorted((row for row in f.models if _MODEL_KINDS.get(row.result.role, "teacher") != "teacher"),
                    key=lambda row: order[_MODEL_KINDS[row.result.role]])
    arms.extend(_model_arm(f, row) for row in others)
    arms.extend(_cascade_arm(f, cascade) for cascade in run_cascades(f))
    return ArmTable(arms, dominance(arms), list(f.volumes_per_day), f.days_per_month)
