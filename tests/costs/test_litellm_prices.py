"""LiteLLM's price map turned into pricing-table entries: units, ids, and nothing at a silent $0."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from distilleval.costs.litellm_prices import (
    PriceMap,
    entry_from_map,
    import_prices,
    installed_map_path,
    map_key_for,
    read_price_map,
)
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import DataError, PricingError

TODAY = dt.date(2026, 12, 1)

SONNET = {
    "litellm_provider": "anthropic", "mode": "chat",
    "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
    "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06,
    "input_cost_per_token_batches": 1.5e-06, "output_cost_per_token_batches": 7.5e-06,
}


def _map(**entries) -> PriceMap:
    return PriceMap(entries, installed_map_path().with_name("test-map.json"), "9.9.9")


def test_per_token_prices_become_per_million_with_every_tier():
    table_id, data = entry_from_map("claude-sonnet-4-5", SONNET, source="map", as_of=TODAY)
    price = ModelPrice.model_validate(data)
    assert table_id == "anthropic/claude-sonnet-4-5" and price.aliases == ["claude-sonnet-4-5"]
    # 3e-06 x 1M is 2.9999999999999996 in binary; the table keeps the figure the provider lists.
    assert (price.input_per_mtok_usd, price.output_per_mtok_usd) == (3.0, 15.0)
    assert (price.cached_input_per_mtok_usd, price.cache_write_per_mtok_usd) == (0.3, 3.75)
    assert price.batch_prices() == (1.5, 7.5)
    assert (price.source, price.as_of) == ("map", TODAY)


def test_prefixed_keys_stay_as_they_are():
    entry = {"litellm_provider": "mistral", "mode": "chat", "input_cost_per_token": 5e-07, "output_cost_per_token": 1.5e-06}
    table_id, data = entry_from_map("mistral/mistral-large-latest", entry, source="map", as_of=TODAY)
    assert table_id == "mistral/mistral-large-latest" and "aliases" not in data
    assert "batch_input" not in data and "cached_input" not in data


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}, "both priced at $0"),
        ({"input_cost_per_token": 1e-06}, "no per-token input and output price"),
        ({"input_cost_per_second": 1e-04, "output_cost_per_second": 1e-04}, "no per-token input and output price"),
        ({"input_cost_per_token": "free", "output_cost_per_token": 1e-06}, "no per-token input and output price"),
        ({"input_cost_per_token": -1e-06, "output_cost_per_token": 1e-06}, "input: Input should be greater than or equal to 0"),
    ],
)
def test_entries_that_would_price_wrongly_are_refused(entry, reason):
    made = entry_from_map("m", {"litellm_provider": "x", "mode": "chat", **entry}, source="map", as_of=TODAY)
    assert isinstance(made, str) and reason in made


def test_map_key_for_bare_and_prefixed_ids():
    price_map = _map(**{"gpt-5-mini": {"litellm_provider": "openai"}, "mistral/large": {"litellm_provider": "mistral"}})
    assert map_key_for(price_map, "gpt-5-mini") == "gpt-5-mini"
    assert map_key_for(price_map, "openai/gpt-5-mini") == "gpt-5-mini"
    assert map_key_for(price_map, "anthropic/gpt-5-mini") is None  # the provider must match
    assert map_key_for(price_map, "mistral/large") == "mistral/large"


def test_models_asked_for_must_exist_and_be_priced():
    price_map = _map(**{"claude-sonnet-4-5": SONNET, "free-model": {"litellm_provider": "x", "mode": "chat",
                                                                   "input_cost_per_token": 0, "output_cost_per_token": 0}})
    assert list(import_prices(price_map, ["anthropic/claude-sonnet-4-5"], as_of=TODAY).models) == ["anthropic/claude-sonnet-4-5"]
    with pytest.raises(PricingError, match="'openai/gpt-9' is not in LiteLLM model price map"):
        import_prices(price_map, ["openai/gpt-9"], as_of=TODAY)
    with pytest.raises(PricingError, match=r"'free-model' .*both priced at \$0"):
        import_prices(price_map, ["free-model"], as_of=TODAY)


def test_importing_all_keeps_text_models_and_says_what_it_skipped():
    embedding = {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 1e-08, "output_cost_per_token": 0}
    free = {"litellm_provider": "ollama", "mode": "chat", "input_cost_per_token": 0, "output_cost_per_token": 0}
    imported = import_prices(_map(**{"claude-sonnet-4-5": SONNET, "embed": embedding, "ollama/llama": free}), None, as_of=TODAY)
    assert list(imported.models) == ["anthropic/claude-sonnet-4-5"]
    assert set(imported.skipped) == {"ollama/llama"}  # embeddings are not text models: not considered


def test_a_prefixed_id_already_in_the_map_keeps_its_own_entry():
    other = {**SONNET, "input_cost_per_token": 4e-06}
    imported = import_prices(_map(**{"claude-x": SONNET, "anthropic/claude-x": other}), None, as_of=TODAY)
    assert imported.models["anthropic/claude-x"]["input"] == 4.0
    assert imported.models["claude-x"]["input"] == 3.0 and "aliases" not in imported.models["claude-x"]


def test_the_installed_map_is_read_without_importing_litellm():
    probe = (
        "import sys; from distilleval.costs.litellm_prices import read_price_map; m = read_price_map(); "
        "print(len(m.entries), m.version, 'litellm' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count, version, imported = done.stdout.split()
    assert int(count) > 1000 and version[0].isdigit() and imported == "False"


def test_a_broken_map_is_a_one_line_error(tmp_path):
    path = tmp_path / "map.json"
    path.write_text('{"a": {"input_cost_per_token": 1e-06,\n}')
    with pytest.raises(DataError, match=rf"^{path}:2: not valid JSON"):
        read_price_map(path, version="1")
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match="expected a JSON object"):
        read_price_map(path, version="1")


def test_every_imported_entry_of_the_real_map_is_priced_and_sourced():
    price_map = read_price_map()
    imported = import_prices(price_map, None, as_of=TODAY)
    assert len(imported.models) > 1000
    for table_id, data in imported.models.items():
        assert data["input"] > 0 or data["output"] > 0, table_id
        assert data["source"] == f"LiteLLM model price map (model_prices_and_context_window_backup.json, litellm {price_map.version})"
    # The map's own entry for GPT-5.2 agrees with the bundled table's list price.
    assert (imported.models["openai/gpt-5.2"]["input"], imported.models["openai/gpt-5.2"]["output"]) == (1.75, 14.0)
    json.dumps(imported.models, default=str)  # plain data, ready for YAML
