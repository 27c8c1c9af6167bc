"""Every model a spec will price has an entry in the pricing table: checked before any work.

A run that trains baselines for a minute and then finds the teacher unpriced wastes that
minute and names no file; this check runs first and names the spec's line.
"""

from __future__ import annotations

from collections.abc import Collection

from distilleval.costs.pricing import PricingTable
from distilleval.errors import PricingError
from distilleval.spec.task_spec import TaskSpec, spec_location
from distilleval.spec.yaml_source import FieldPath


def priced_models(spec: TaskSpec, *, training: bool = False, roles: Collection[str] | None = None,
                  baselines: Collection[str] | None = None) -> list[tuple[FieldPath, str]]:
    """(spec field path, pricing-table id) of every model the spec prices.

    Args:
        spec: the loaded spec.
        training: also the training price (``training.price_as``), for runs that fine-tune.
        roles: only these of teacher and student (default: both).
        baselines: only the baselines with these display names (default: all).
    """
    wanted: list[tuple[FieldPath, str]] = []
    for role, model in spec.models().items():
        if roles is None or role in roles:
            where = spec.model_path(role)
            wanted.append(((*where, "price_as") if model.price_as else (*where, "model"), model.pricing_key))
    for position, baseline in enumerate(spec.baselines):
        if baselines is None or baseline.display_name in baselines:
            wanted.append((("baselines", position), baseline.price_as))
    judge = spec.judge_model()
    if judge is not None:
        wanted.append((("scorer", "price_as") if judge.price_as else ("scorer", "model"), judge.pricing_key))
    if training:
        wanted.append((("training", "price_as"), spec.training.price_as))
    return wanted


def _field_text(path: FieldPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check_spec_priced(spec: TaskSpec, pricing: PricingTable, *, training: bool = False,
                      roles: Collection[str] | None = None, baselines: Collection[str] | None = None) -> None:
    """Raise on the first model of ``spec`` that ``pricing`` has no entry for (arguments as
    ``priced_models``).

    Raises:
        PricingError: ``SPEC:LINE: field: model 'x' has no price in TABLE ...``.
    """
    for path, model in priced_models(spec, training=training, roles=roles, baselines=baselines):
        if pricing.find(model) is not None:
            continue
        where = spec_location(spec, path)
        raise PricingError(
            f"{where}: {_field_text(path)}: model {model!r} has no price in {pricing.path}; "
            "add it to the table, pass --pricing FILE, or set price_as in the spec"
        )
