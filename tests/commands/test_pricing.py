"""`distilleval pricing import` / `show`: a dated table from LiteLLM's map, and where a price comes from."""

from __future__ import annotations

import json

import pytest
import yaml

from distilleval.cli.main import main
from distilleval.costs.pricing import DEFAULT_TABLE, load_pricing

SONNET = "anthropic/claude-sonnet-4-5"


def _tiny_map(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({
        "claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
                              "output_cost_per_token": 1.5e-05, "input_cost_per_token_batches": 1.5e-06,
                              "output_cost_per_token_batches": 7.5e-06},
        "gpt-5.2": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 9e-06, "output_cost_per_token": 9e-05},
        "ollama/llama3": {"litellm_provider": "ollama", "mode": "chat", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
    }))
    return path


def test_import_writes_a_dated_table_that_cost_uses(tmp_path, capsys):
    out = tmp_path / "litellm.yaml"
    assert main(["pricing", "import", SONNET, "gpt-5-mini", "--out", str(out), "--as-of", "2026-12-01"]) == 0
    assert capsys.readouterr().out.startswith(f"{out}: 2 models from LiteLLM model price map")
    raw = yaml.safe_load(out.read_text())
    assert raw["defer_to"] == "bundled" and str(raw["as_of"]) == "2026-12-01"
    for entry in raw["models"].values():
        assert entry["source"].startswith("LiteLLM model price map (model_prices_and_context_window_backup.json, litellm ")
        assert str(entry["as_of"]) == "2026-12-01"
    assert main(["cost", "--pricing", str(out), "--model", SONNET, "--tokens-in", "1000", "--tokens-out", "100",
                 "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["cost_per_request_usd"] == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)


def test_import_all_from_a_map_skips_what_would_price_at_zero(tmp_path, capsys):
    out = tmp_path / "all.yaml"
    assert main(["pricing", "import", "--map", str(_tiny_map(tmp_path)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 models from" in printed and "1 map entries skipped" in printed
    table = load_pricing(out)
    assert set(table.content.models) == {SONNET, "openai/gpt-5.2"}
    assert table.find("ollama/llama3") is None
    # The bundled table still wins for GPT-5.2 ($1.75 there, $9 in this map).
    assert table.price_for("openai/gpt-5.2").input_per_mtok_usd == 1.75


def test_asking_for_a_zero_priced_model_is_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "nothing.yaml"
    assert main(["pricing", "import", "ollama/llama3", "--map", str(_tiny_map(tmp_path)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "both priced at $0" in err
    assert not out.exists()


def test_show_names_the_table_that_prices_a_model(tmp_path, capsys):
    out = tmp_path / "lite.yaml"
    assert main(["pricing", "import", "--map", str(_tiny_map(tmp_path)), "--out", str(out), "--as-of", "2026-12-01"]) == 0
    capsys.readouterr()
    assert main(["pricing", "show", "claude-sonnet-4-5", "--pricing", str(out), "--max-price-age-days", "100000"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("claude-sonnet-4-5: $3 input, $15 output, batch $1.5 input, $7.5 output per 1M tokens")
    assert f"entry '{SONNET}' (claude-sonnet-4-5) in {out}" in shown and "stale" not in shown
    assert main(["pricing", "show", "openai/gpt-5.2", "--pricing", str(out), "--max-price-age-days", "100000"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("openai/gpt-5.2: $1.75 input, $14 output")
    assert f"in {DEFAULT_TABLE}" in shown and "2026-02.yaml wins: lite.yaml defers to it" in shown


def test_show_flags_a_price_older_than_the_limit(capsys):
    assert main(["pricing", "show", "openai/gpt-5.2", "--max-price-age-days", "0"]) == 0
    assert "stale: read " in capsys.readouterr().out


def test_show_of_an_unpriced_model_is_exit_2(capsys):
    assert main(["pricing", "show", "mistral/large-3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'mistral/large-3' has no price in" in err
