"""Measuring a learning curve on the ticket-routing example: nested subsets, seeds, scores, costs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from distilleval.costs.estimates import count_spec_tokens, labelling_and_training_usd, spec_one_time_cost
from distilleval.costs.pricing import load_pricing
from distilleval.errors import DataError
from distilleval.pipeline import learning_curve
from distilleval.pipeline.learning_curve import curve_sizes, measure_learning_curve
from distilleval.spec.data import load_items, split_items
from distilleval.spec.task_spec import load_spec

SPEC = Path(__file__).resolve().parents[2] / "specs" / "ticket_routing" / "spec.yaml"


@pytest.fixture(scope="module")
def spec_items():
    spec = load_spec(SPEC)
    return spec, load_items(spec, require_gold=True)


def test_sizes_stop_below_the_split_and_end_with_all_of_it():
    assert curve_sizes(352) == [50, 100, 200, 352]
    assert curve_sizes(80, [10, 80, 500]) == [10, 80]


def test_subsets_are_nested_and_every_point_is_scored_on_the_whole_eval_split(spec_items, monkeypatch):
    spec, items = spec_items
    seen: list[tuple[int, tuple[str, ...]]] = []
    real_train = learning_curve.__dict__.get("train_baseline")
    assert real_train is None  # imported inside the function; spy on the baselines package instead
    import distilleval.baselines as baselines

    original = baselines.train_baseline

    def spy(baseline, subset, labels=None, *, seed=0):
        seen.append((seed, tuple(item.id for item in subset)))
        return original(baseline, subset, labels, seed=seed)

    monkeypatch.setattr(baselines, "train_baseline", spy)
    spec = spec.model_copy(update={"baselines": spec.baselines[:1]})
    curve = measure_learning_curve(spec, items, sizes=[50, 100], seeds=2, say=lambda line: None)
    by_seed: dict[int, list[tuple[str, ...]]] = {}
    for seed, ids in seen:
        by_seed.setdefault(seed, []).append(ids)
    for subsets in by_seed.values():
        assert [len(s) for s in subsets] == [50, 100, 352]
        assert set(subsets[0]) <= set(subsets[1]) <= set(subsets[2])
    assert by_seed[0][0] != by_seed[1][0]  # the seeds shuffle differently
    assert curve.n_eval == len(split_items(items, "eval")) and curve.sizes() == [50, 100, 352]
    assert all(len(p.scores) == 2 and 0.0 <= p.mean <= 1.0 for p in curve.points)
    assert curve.margin == spec.gates.non_inferiority_margin
    # The gain per doubling over the last sizes, from both seeds' per-item scores on every eval item.
    gain = curve.gains[curve.models()[0]]
    assert gain is not None and gain.sizes == [50, 100, 352] and gain.seeds == 2 and gain.n_items == curve.n_eval
    assert gain.low <= gain.gain <= gain.high and gain.flat == (gain.high < curve.margin)


def test_more_data_helps_on_the_example_and_costs_grow_with_size(spec_items):
    spec, items = spec_items
    pricing = load_pricing(spec.resolve(spec.pricing))
    curve = measure_learning_curve(spec, items, pricing=pricing, sizes=[50], seeds=2, say=lambda line: None)
    for model in curve.models():
        small, full = sorted((p for p in curve.points if p.model == model), key=lambda p: p.size)
        assert full.mean > small.mean
    assert [c.size for c in curve.costs] == [50, 352]
    assert curve.costs[1].labelling_usd == pytest.approx(curve.costs[0].labelling_usd * 352 / 50)


def test_size_cost_matches_the_one_time_cost_without_engineering(spec_items):
    spec, items = spec_items
    pricing = load_pricing(spec.resolve(spec.pricing))
    profiles = count_spec_tokens(spec, items).profiles(spec)
    n_train = len(split_items(items, "train"))
    labelling, training = labelling_and_training_usd(spec, pricing, profiles["teacher"], profiles["student"], examples=n_train)
    total = spec_one_time_cost(spec, pricing, profiles["teacher"], profiles["student"], n_train=n_train)
    assert labelling + training + spec.training.engineering_cost_usd == pytest.approx(total)


def test_a_spec_without_baselines_is_refused(spec_items):
    spec, items = spec_items
    with pytest.raises(DataError, match="lists none"):
        measure_learning_curve(spec.model_copy(update={"baselines": []}), items, say=lambda line: None)


def test_the_curve_does_not_depend_on_the_order_of_the_items(spec_items):
    """Subsets are drawn by a seeded hash of each id and fits see their items in canonical order."""
    spec, items = spec_items
    spec = spec.model_copy(update={"baselines": spec.baselines[:1]})
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != items
    curves = [measure_learning_curve(spec, order, sizes=[50, 100], seeds=2, say=lambda line: None) for order in (items, shuffled)]
    assert [(p.model, p.size, p.scores) for p in curves[0].points] == [(p.model, p.size, p.scores) for p in curves[1].points]
    assert curves[0].gains == curves[1].gains
