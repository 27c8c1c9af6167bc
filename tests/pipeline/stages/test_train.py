"""``distilleval.train`` against the Tinker double: the sampler path and the manifest it wrote, printing nothing."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tinker")  # the Tinker extra

import distilleval
from distilleval.testing.fake_tinker import FakeServiceClient
from tests.commands.test_train import make_spec, make_training_data


def test_train_returns_the_checkpoint_and_its_manifest(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    result = distilleval.train(spec, data, out=tmp_path / "out", service_factory=FakeServiceClient)
    assert capsys.readouterr().out == ""
    assert isinstance(result, distilleval.TrainResult)
    assert result.sampler_path.startswith("tinker://")
    assert result.manifest_path == tmp_path / "out" / "manifest.json"
    assert json.loads(result.manifest_path.read_text()) == json.loads(json.dumps(result.manifest))
    assert result.manifest["sampler_path"] == result.sampler_path


def test_a_flag_that_is_not_positive_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    with pytest.raises(distilleval.DistillevalError, match="--epochs must be positive, got 0"):
        distilleval.train(spec, data, epochs=0, out=tmp_path / "out", service_factory=FakeServiceClient)
    assert not (tmp_path / "out").exists()
