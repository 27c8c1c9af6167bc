"""manifest.json: sampler path, hyper-parameters, data hash, token counts, training cost."""

import pytest

pytest.importorskip("tinker")  # the Tinker extra; the rest of the suite runs without it

import datetime as dt
import json

from distilleval.costs.pricing import load_pricing
from distilleval.errors import PricingError
from distilleval.testing.fake_tinker import FakeServiceClient
from distilleval.training.manifest import build_manifest, read_manifest, training_cost, write_manifest
from distilleval.training.tinker_trainer import TrainingConfig, train_lora
from tests.training.test_tinker_trainer import make_examples


def test_training_cost_is_trained_tokens_times_table_price():
    pricing = load_pricing()
    block = training_cost(2_000_000, pricing=pricing, price_as="tinker/lora")
    price = pricing.price_for("tinker/lora").training_per_mtok_usd
    assert block["cost_usd"] == pytest.approx(2 * price)
    assert block["pricing_sha256"] == pricing.sha256
    assert block["pricing_table"] == pricing.label


def test_training_cost_needs_a_training_price():
    with pytest.raises(PricingError, match="has no 'training' price"):
        training_cost(10, pricing=load_pricing(), price_as="openai/gpt-5.2")


def test_manifest_from_a_run_round_trips(tmp_path):
    examples = make_examples(40)
    config = TrainingConfig(base_model="Qwen/Qwen3-8B", batch_size=8, epochs=2)
    result = train_lora(FakeServiceClient(), examples, config, tmp_path, data_sha256="ab" * 32, source="t", log=lambda _: None)
    pricing = load_pricing()
    manifest = build_manifest(
        spec_name="ticket_routing",
        template="qwen3",
        config=config,
        result=result,
        data_path=tmp_path / "train.jsonl",
        data_sha256="ab" * 32,
        rows=40,
        prompt_tokens=sum(len(e.tokens) - e.trained_tokens for e in examples),
        completion_tokens=sum(e.trained_tokens for e in examples),
        pricing=pricing,
        price_as="tinker/lora",
        now=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc),
    )
    path = write_manifest(tmp_path, manifest)
    loaded = read_manifest(path)
    assert loaded["sampler_path"] == loaded["student_model"] == result.sampler_path
    assert result.sampler_path.endswith(":train:0/sampler_weights/step-000010")
    assert loaded["hyperparameters"] | {} == {
        "base_model": "Qwen/Qwen3-8B", "rank": 32, "learning_rate": 1e-4, "epochs": 2, "batch_size": 8,
        "heldout_fraction": 0.1, "seed": 0, "save_every_steps": None, "lr_schedule": "linear",
        "checkpoint_ttl_s": 7 * 24 * 3600, "max_restarts": 2,
    }
    assert loaded["data"] == {"path": str(tmp_path / "train.jsonl"), "sha256": "ab" * 32, "rows": 40, "train_rows": 36, "heldout_rows": 4}
    assert loaded["tokens"]["trained_tokens"] == result.trained_tokens
    assert loaded["tokens"]["completion_tokens"] == 80
    price = pricing.price_for("tinker/lora").training_per_mtok_usd
    assert loaded["training_cost"]["cost_usd"] == pytest.approx(result.trained_tokens * price / 1e6)
    assert [e["epoch"] for e in loaded["epochs"]] == [1, 2]
    assert loaded["created_at"] == "2026-02-01T00:00:00+00:00"
    assert not (tmp_path / "manifest.json.tmp").exists()
    assert json.loads(path.read_text())["manifest_version"] == 1


def test_storage_is_not_costed_without_sizes_or_a_rate():
    from distilleval.training.manifest import storage_cost

    sized = [{"path": "p", "type": "training", "size_bytes": 10**9, "expires_at": None}]
    assert storage_cost(sized, ttl_s=3600, rate_usd_per_gb_month=None, rate_source="s") == {
        "cost_usd": None, "note": "storage not costed: the pricing table has no storage_gb_month rate for this model"}
    unsized = [{"path": "p", "type": "training", "size_bytes": None, "expires_at": None}]
    assert storage_cost(unsized, ttl_s=3600, rate_usd_per_gb_month=0.1, rate_source="s")["cost_usd"] is None
    assert storage_cost(sized, ttl_s=3600, rate_usd_per_gb_month=0.1, rate_source="s")["cost_usd"] == pytest.approx(0.1)
