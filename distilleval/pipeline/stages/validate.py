"""``validate``: is the teacher right often enough to be worth distilling? (``distilleval validate``)

The teacher labels every item that has a gold answer (through the shared runner and cache); its
outputs are scored with the spec's scorer, and a seeded sample of items is kept for a person to
read. The result says whether the metric reaches ``gates.teacher_min``: if the teacher cannot do
the task, the student will not either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from distilleval.pipeline.stages.arguments import Say, SpecArg, as_spec, silent
from distilleval.pipeline.stages.result_json import RENDER_ONLY

if TYPE_CHECKING:
    from distilleval.results.summary_json import MetricValue


@dataclass(frozen=True)
class SpotCheck:
    """One item of the spot-check sample, side by side.

    Attributes:
        id, line: the item and its line in the data file.
        score: its score (None: not scored, the call failed or the output was invalid).
        reason: why it scored as it did, when the scorer says.
        input: the item's inputs as ``field: value`` joined by `` | ``.
        teacher: the teacher's output (None when the call failed).
        gold: the gold answer as text (JSON for structured gold).
    """

    id: str
    line: int
    score: float | None
    reason: str | None
    input: str
    teacher: str | None
    gold: str


@dataclass(frozen=True)
class ValidateResult:
    """The teacher against gold; its JSON is what ``distilleval validate --out FILE`` writes.

    Attributes:
        spec: the spec's name.
        teacher: the labelling model.
        metric: the spec's metric over the items, with its interval.
        secondary: the scorer's other figures (per-class ones named ``figure/class``).
        items: items with gold that were labelled.
        invalid: answered calls whose output the scorer found invalid.
        failed_calls: calls that failed.
        spent_usd: what the calls cost this run.
        teacher_min: the spec's ``gates.teacher_min`` (None: nothing to fail on).
        passed: the metric reaches ``teacher_min`` (True when there is no floor).
        pricing_table: the pricing table's label.
        spot_check: the seeded sample for reading (text output only).
        seed: the sample's seed (text output only).
    """

    spec: str
    teacher: str
    metric: MetricValue
    secondary: Mapping[str, float | None]
    items: int
    invalid: int
    failed_calls: int
    spent_usd: float
    teacher_min: float | None
    passed: bool
    pricing_table: str
    spot_check: tuple[SpotCheck, ...] = field(metadata=RENDER_ONLY)
    seed: int = field(metadata=RENDER_ONLY)


def validate(
    spec: SpecArg,
    *,
    split: str = "all",
    limit: int | None = None,
    spot_check: int = 10,
    seed: int = 0,
    concurrency: int = 16,
    max_retries: int = 4,
    cache: str | None = None,
    no_cache: bool = False,
    pricing: str | None = None,
    say: Say = silent,
) -> ValidateResult:
    """Label every item with gold with the teacher and score it against gold.

    Args:
        spec: the task spec, or its YAML file.
        split: which items with gold to use: ``all``, ``train`` or ``eval``.
        limit: use only the first N items with gold in the canonical order (a hash of each item id).
        spot_check: items to keep in the seeded sample for reading (0: none).
        seed: the sample's seed.
        concurrency, max_retries: calls in flight, retries of a failed call.
        cache, no_cache: the response cache file (default ``$DISTILLEVAL_CACHE`` or the user cache), or none.
        pricing: pricing table YAML (default: the spec's, else the bundled table).
        say: where progress lines go.

    Raises:
        DistillevalError: bad arguments, a spec without gold, no items with gold (one line).
    """
    import json
    import random

    from distilleval.costs.pricing import resolve_pricing
    from distilleval.errors import DataError, DistillevalError
    from distilleval.pipeline.preflight import check_gold_shape, check_scorer
    from distilleval.run.cache import cache_path_for
    from distilleval.scoring import build_scorer
    from distilleval.spec.data import load_items
    from distilleval.training.teacher import run_teacher

    for name, value in (("limit", limit), ("concurrency", concurrency)):
        if value is not None and value < 1:
            raise DistillevalError(f"--{name} must be at least 1, got {value}")
    if spot_check < 0 or max_retries < 0:
        raise DistillevalError("--spot-check and --max-retries must be 0 or more")
    spec, spec_name = as_spec(spec)
    data_path = spec.resolve(spec.data.path)
    if not spec.data.gold:
        raise DataError(f"{spec_name}: data.gold is not set; validate compares the teacher with gold answers")
    items = [item for item in load_items(spec) if item.gold is not None]
    if split != "all":
        items = [item for item in items if item.split == split]
    if limit is not None:
        items = items[:limit]
    if not items:
        raise DataError(f"{data_path}: no items with a gold answer in column {spec.data.gold!r} (split: {split})")
    check_gold_shape(spec, items)  # the shared pre-flight checks (pipeline.preflight), before any call
    check_scorer(spec)
    table = resolve_pricing(spec, pricing)
    cache_path = None if no_cache else cache_path_for(cache)

    say(f"validating {spec.labeller()[1].model} on {len(items)} items with gold from {data_path}")
    results = run_teacher(
        spec, items, pricing=table, cache_path=cache_path, concurrency=concurrency, max_retries=max_retries
    )
    outputs = [result.text if result.ok else None for result in results]
    with build_scorer(spec) as scorer:
        scores = scorer.score_items(outputs, items)
        metric, secondary = scorer.summarize(scores)

    picked = sorted(random.Random(seed).sample(range(len(items)), min(spot_check, len(items)))) if spot_check else []
    sample = tuple(
        SpotCheck(
            id=items[i].id, line=items[i].line, score=scores[i].score, reason=scores[i].reason,
            input=" | ".join(f"{key}: {value}" for key, value in items[i].inputs.items()),
            teacher=outputs[i],
            gold=gold if isinstance(gold := items[i].gold, str) else json.dumps(gold, ensure_ascii=False),
        )
        for i in picked
    )
    floor = spec.gates.teacher_min
    return ValidateResult(
        spec=spec.name,
        teacher=spec.labeller()[1].model,
        metric=metric,
        secondary=secondary,
        items=len(items),
        invalid=sum(1 for result, score in zip(results, scores) if result.ok and not score.valid),
        failed_calls=sum(1 for result in results if not result.ok),
        spent_usd=sum(result.cost_usd for result in results),
        teacher_min=floor,
        passed=floor is None or (metric.value is not None and metric.value >= floor),
        pricing_table=table.label,
        spot_check=sample,
        seed=seed,
    )
