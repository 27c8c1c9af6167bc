"""estimate, cost SPEC and the offline run price a prompted candidate the same way: its own
rendered prompt (the teacher's rubric by default) counted locally, at its own pricing row."""

import json
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.costs.pricing import load_pricing
from distilleval.costs.tokens import count_message_tokens
from distilleval.results.projection import projected_model_result
from distilleval.spec.data import load_items
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import load_spec

SPEC = Path(__file__).resolve().parents[2] / "specs" / "ticket_routing" / "spec.yaml"


def _json_out(capsys, argv):
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_estimate_cost_and_the_offline_run_give_the_candidate_one_cost_per_request(capsys):
    spec = load_spec(SPEC)
    (candidate,) = spec.candidates
    items = load_items(spec)
    # The truth, computed apart: every item's request to the candidate counted, gold answers as outputs.
    inputs = [count_message_tokens(build_messages(candidate, item, spec.data.image_inputs)) for item in items]
    estimate = _json_out(capsys, ["estimate", str(SPEC), "--format", "json"])
    profile = estimate["profiles"]["gpt-4.1-mini"]
    assert profile["input_tokens"]["mean"] == pytest.approx(sum(inputs) / len(inputs))
    price = load_pricing(spec.resolve(spec.pricing)).price_for("openai/gpt-4.1-mini")
    truth = (profile["input_tokens"]["mean"] * price.input_per_mtok_usd
             + profile["output_tokens"]["mean"] * price.output_per_mtok_usd) / 1e6
    assert estimate["cost_per_request_usd"]["gpt-4.1-mini"] == pytest.approx(truth, rel=1e-12)
    assert estimate["eval_run"]["candidates_usd"]["gpt-4.1-mini"] > 0
    cost = _json_out(capsys, ["cost", str(SPEC), "--format", "json"])
    [row] = [r for r in cost["rows"] if r["role"] == "candidate"]
    assert row["model"] == "openai/gpt-4.1-mini" and row["cost_per_request_usd"] == pytest.approx(truth, rel=1e-12)
    # The offline run's summary row (and so `cost RUN` and its report): the same figure.
    model = projected_model_result(spec, "gpt-4.1-mini", items, load_pricing(spec.resolve(spec.pricing)))
    assert model.role == "candidate" and model.basis == "projected" and model.display_name == "gpt-4.1-mini"
    assert model.cost_per_request_usd == pytest.approx(truth, rel=1e-12)


def test_a_candidate_sent_the_teachers_rubric_shares_its_prompt_cache_share_in_every_projection(capsys, tmp_path):
    import shutil

    import yaml

    folder = tmp_path / "task"
    shutil.copytree(SPEC.parent, folder)
    raw = yaml.safe_load((folder / "spec.yaml").read_text())
    raw["pricing"] = str(SPEC.parents[2] / "pricing" / "2026-02.yaml")
    raw["traffic"]["cached_input_fraction"] = 0.8
    raw["candidates"].append({"name": "own-rubric", "model": "openai/gpt-4.1-mini", "prompt": "Queue for: {text}"})
    (folder / "spec.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    spec = load_spec(folder / "spec.yaml")
    price = load_pricing(spec.resolve(spec.pricing)).price_for("openai/gpt-4.1-mini")
    estimate = _json_out(capsys, ["estimate", str(folder / "spec.yaml"), "--format", "json"])
    for name, share in (("gpt-4.1-mini", 0.8), ("own-rubric", 0.0)):  # its own prompt: no shared cached prefix
        profile = estimate["profiles"][name]
        tokens_in, tokens_out = profile["input_tokens"]["mean"], profile["output_tokens"]["mean"]
        truth = (tokens_in * (1 - share) * price.input_per_mtok_usd + tokens_in * share * price.cached_input_per_mtok_usd
                 + tokens_out * price.output_per_mtok_usd) / 1e6
        assert estimate["cost_per_request_usd"][name] == pytest.approx(truth, rel=1e-12), name
        model = projected_model_result(spec, name, load_items(spec), load_pricing(spec.resolve(spec.pricing)))
        assert model.cost_per_request_usd == pytest.approx(truth, rel=1e-12), name
    cost = _json_out(capsys, ["cost", str(folder / "spec.yaml"), "--format", "json"])
    rows = [r for r in cost["rows"] if r["role"] == "candidate"]
    assert [r["cost_per_request_usd"] for r in rows] == pytest.approx(
        [estimate["cost_per_request_usd"]["gpt-4.1-mini"], estimate["cost_per_request_usd"]["own-rubric"]], rel=1e-12)
