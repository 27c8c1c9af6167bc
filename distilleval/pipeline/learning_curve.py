"""Measure a spec's learning curve: its baselines trained on nested subsets of the training split.

For each seed the training split is ordered once by a seeded hash of each item's id (so the order
of the data file's rows plays no part) and each size takes the first ``size`` items of that order, so a larger subset always contains the smaller ones. Every fit is scored with
the spec's own scorer on the whole eval split. Over the last sizes each model's gain per
doubling of training size is estimated from every seed's per-item scores, with its interval
(``distilleval.results.learning_curve.doubling_gain``). For a Tinker student, each size is also
priced: the teacher labelling that many items plus training on them, from the spec's rendered prompts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from distilleval.costs.pricing import PricingTable
from distilleval.errors import DataError
from distilleval.results.learning_curve import (
    FLAT_ALPHA,
    WINDOW,
    CurvePoint,
    DoublingGain,
    LearningCurve,
    SizeCost,
    doubling_gain,
)
from distilleval.spec.data import Item, canonical_order, split_items
from distilleval.spec.task_spec import TaskSpec

DEFAULT_SIZES = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
DEFAULT_SEEDS = 3
# Used only when neither the spec (gates.non_inferiority_margin) nor the caller gives a margin.
FALLBACK_MARGIN = 0.02


def curve_sizes(n_train: int, requested: Sequence[int] | None = None) -> list[int]:
    """The sizes to train at: those of ``requested`` (default ``DEFAULT_SIZES``) below ``n_train``, then ``n_train``.

    >>> curve_sizes(352)
    [50, 100, 200, 352]
    >>> curve_sizes(1000, [100, 5000])
    [100, 1000]
    """
    chosen = sorted({size for size in (requested or DEFAULT_SIZES) if 0 < size < n_train})
    return chosen + [n_train]


def model_gain(fits: dict[tuple[int, int], list[float | None]], sizes: Sequence[int], margin: float) -> DoublingGain | None:
    """One model's gain per doubling over its last ``WINDOW`` sizes, from per-item scores.

    Args:
        fits: (size, seed) -> the fit's score on each eval item (None: not scored), for the fits
            that trained.
        sizes: every size of the curve, ascending.
        margin: the gain per doubling below which the curve counts as flat.

    Returns:
        The gain over the seeds that trained at every one of the last sizes and the items scored
        in all those fits; None with fewer than two sizes, no such seed or no such item.
    """
    window = list(sizes)[-WINDOW:]
    if len(window) < 2:
        return None
    seeds = sorted({seed for _, seed in fits})
    complete = [seed for seed in seeds if all((size, seed) in fits for size in window)]
    if not complete:
        return None
    rows = np.array([[[np.nan if v is None else v for v in fits[(size, seed)]] for size in window] for seed in complete])
    scored = ~np.isnan(rows).any(axis=(0, 1))
    if not scored.any():
        return None
    return doubling_gain(rows[:, :, scored], window, margin)


def size_costs(spec: TaskSpec, items: list[Item], pricing: PricingTable, sizes: Sequence[int]) -> list[SizeCost]:
    """Projected labelling + training cost of a Tinker student per size; empty when there is no training price.

    Tokens are counted as ``estimate`` and ``cost SPEC`` count them (the student's own tokenizer
    where it ships), and the whole training split is priced row by row, so the curve's last size
    costs what they say; smaller sizes take the mean row.
    """
    from distilleval.backends.tinker.token_counts import spec_token_counters
    from distilleval.costs.estimates import count_spec_tokens, labelling_and_training_usd, spec_training_rows

    counts = count_spec_tokens(spec, items, counters=spec_token_counters(spec))
    profiles = counts.profiles(spec)
    n_train, rows = spec_training_rows(spec, counts)
    costs = []
    for size in sizes:
        split = labelling_and_training_usd(spec, pricing, profiles[spec.labeller()[0]], profiles["student"], examples=size,
                                           row_tokens=rows if size == n_train else None)
        if split is None:
            return []
        costs.append(SizeCost(size, *split))
    return costs


def measure_learning_curve(
    spec: TaskSpec,
    items: list[Item],
    *,
    pricing: PricingTable | None = None,
    sizes: Sequence[int] | None = None,
    seeds: int = DEFAULT_SEEDS,
    margin: float | None = None,
    say: Callable[[str], None] = print,
) -> LearningCurve:
    """Train every spec baseline at every size and seed, score each on the eval split.

    Args:
        spec: the task spec (its baselines, scorer and non-inferiority margin).
        items: the spec's items with gold labels (train and eval splits).
        pricing: prices the Tinker student's labelling + training per size (None: no costs).
        sizes: training sizes (default ``DEFAULT_SIZES`` below the split's size, then all of it).
        seeds: shuffles per size.
        margin: the gain per doubling below which a curve counts as flat (default: the spec's non-inferiority margin).
        say: progress lines.

    Raises:
        DataError: no baselines, no training or eval items, or fewer than one seed.
    """
    from distilleval.backends.tinker.model_ids import is_tinker_model
    from distilleval.baselines import item_text, train_baseline
    from distilleval.scoring.registry import build_scorer

    # Canonical order, whatever order the caller passes: per-item scores feed the gain's interval.
    train, evaluation = canonical_order(split_items(items, "train")), canonical_order(split_items(items, "eval"))
    if not spec.baselines:
        raise DataError(f"{spec.name}: a learning curve trains the spec's baselines, and it lists none")
    if not train or not evaluation:
        raise DataError(f"{spec.name}: a learning curve needs train and eval items; found {len(train)} and {len(evaluation)}")
    if seeds < 1:
        raise DataError(f"--seeds must be at least 1, found {seeds}")
    chosen_sizes = curve_sizes(len(train), sizes)
    orders = [canonical_order(train, salt=f"learning-curve:{seed}") for seed in range(seeds)]
    eval_texts = [item_text(item) for item in evaluation]
    scorer = build_scorer(spec)
    notes: list[str] = []
    points: list[CurvePoint] = []
    per_item: dict[str, dict[tuple[int, int], list[float | None]]] = {}
    try:
        for baseline in spec.baselines:
            for size in chosen_sizes:
                scores = []
                for seed, order in enumerate(orders):
                    subset = order[:size]
                    try:
                        trained = train_baseline(baseline, subset, seed=seed)
                    except DataError as err:
                        notes.append(f"{baseline.display_name} at {size} items, seed {seed}: not trained ({err})")
                        continue
                    item_scores = scorer.score_items(trained.predict_texts(eval_texts), evaluation)
                    per_item.setdefault(baseline.display_name, {})[(size, seed)] = [s.score for s in item_scores]
                    counted = [s.score for s in item_scores if s.score is not None]
                    scores.append(sum(counted) / len(counted) if counted else 0.0)
                if scores:
                    point = CurvePoint.of(baseline.display_name, size, scores, len(evaluation))
                    points.append(point)
                    say(f"  {baseline.display_name}: {size:>7,} items  {point.mean:.3f} over {len(scores)} seed(s)")
    finally:
        scorer.close()

    margin_used = margin if margin is not None else spec.gates.non_inferiority_margin
    if margin_used is None:
        margin_used = FALLBACK_MARGIN
        notes.append(f"the spec sets no gates.non_inferiority_margin; the flat test uses {FALLBACK_MARGIN:g} per doubling")
    models = list(dict.fromkeys(point.model for point in points))
    gains = {model: model_gain(per_item.get(model, {}), chosen_sizes, margin_used) for model in models}

    costs: list[SizeCost] = []
    if pricing is not None and is_tinker_model(spec.student.model):
        costs = size_costs(spec, items, pricing, chosen_sizes)
        if not costs:
            notes.append("no training price for the student, so sizes are not priced")
    elif pricing is not None:
        notes.append(f"the student ({spec.student.model}) is not trained on Tinker, so sizes are not priced")
    notes.append(
        f"each size: the first N items of {seeds} seeded orders of the training split, by a hash of each item id (nested subsets); "
        f"scored on all {len(evaluation)} eval items; interval: 95% Wilson over the eval items at the mean score"
    )
    notes.append(
        f"gain per doubling: slope of score on log2(training items) over the last {WINDOW} sizes, with a "
        f"{1 - 2 * FLAT_ALPHA:.0%} interval across seeds and eval items; flat only when its upper end (a one-sided 95% "
        f"bound) is below the margin {margin_used:g} per doubling"
    )
    return LearningCurve(
        spec_name=spec.name,
        metric=scorer.primary_metric,
        n_train=len(train),
        n_eval=len(evaluation),
        seeds=seeds,
        margin=margin_used,
        points=points,
        gains=gains,
        costs=costs,
        notes=notes,
    )
