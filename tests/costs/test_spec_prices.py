"""Every model a spec prices is checked against the pricing table before any work."""

from __future__ import annotations

import shutil

import pytest

from distilleval.costs.pricing import load_pricing
from distilleval.costs.spec_prices import check_spec_priced, priced_models
from distilleval.errors import PricingError
from distilleval.spec.task_spec import load_spec


def _tiny_copy(tiny_spec_path, tmp_path, old: str, new: str):
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_spec_path.parent, folder)
    path = folder / "spec.yaml"
    path.write_text(path.read_text().replace(old, new))
    return load_spec(path)


def test_a_fully_priced_spec_passes(tiny_spec_path):
    spec = load_spec(tiny_spec_path)
    check_spec_priced(spec, load_pricing(), training=True)
    assert [model for _, model in priced_models(spec)] == ["anthropic/claude-opus-4-6", "tinker://tiny/sampler_weights/final"]


def test_an_unpriced_teacher_names_the_spec_line_and_the_table(tiny_spec_path, tmp_path):
    spec = _tiny_copy(tiny_spec_path, tmp_path, "anthropic/claude-opus-4-6", "acme/frontier-9")
    line = next(n for n, text in enumerate(spec.source.read_text().splitlines(), 1) if "acme/frontier-9" in text)
    with pytest.raises(PricingError) as caught:
        check_spec_priced(spec, load_pricing())
    message = str(caught.value)
    assert message.startswith(f"{spec.source}:{line}: teacher.model: model 'acme/frontier-9' has no price in ")
    assert "2026-02.yaml" in message and "\n" not in message


def test_baselines_and_training_prices_are_checked_where_asked(tiny_spec_path, tmp_path):
    spec = _tiny_copy(tiny_spec_path, tmp_path, "traffic:", "baselines: [{kind: tfidf_logreg, price_as: cpu/none}]\ntraffic:")
    with pytest.raises(PricingError, match=r"spec.yaml:\d+: baselines\[0\]: model 'cpu/none' has no price"):
        check_spec_priced(spec, load_pricing())
    spec = _tiny_copy(tiny_spec_path, tmp_path / "t", "traffic:", "training: {price_as: nowhere/lora}\ntraffic:")
    check_spec_priced(spec, load_pricing())  # training price only matters to a run that trains
    with pytest.raises(PricingError, match=r"training.price_as: model 'nowhere/lora' has no price"):
        check_spec_priced(spec, load_pricing(), training=True)
