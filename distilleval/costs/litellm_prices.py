"""Pricing-table entries from LiteLLM's model price map, read as JSON without importing LiteLLM.

LiteLLM ships ``model_prices_and_context_window_backup.json`` (thousands of models: USD per
token for input, output, prompt-cache reads and writes, and the batch tier) inside its package.
Importing LiteLLM takes seconds, so the file is found through the import system's metadata only
and read as plain JSON. Entries come out in the pricing table's own format (USD per 1M tokens),
each naming the map and LiteLLM's version as its ``source``. A model whose map entry has no
token price, or prices both input and output at $0, is never written: it would price silently
at $0.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from distilleval.costs.cost_model import TOKENS_PER_PRICE_UNIT
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import ConfigurationError, DataError, PricingError

MAP_FILE = "model_prices_and_context_window_backup.json"
# Modes priced per token for text generation; embeddings, images and audio are priced otherwise.
TEXT_MODES = ("chat", "completion", "responses")
_PLAIN_PROVIDER = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class PriceMap:
    """LiteLLM's map as read: its entries, the file, and the LiteLLM version that shipped it."""

    entries: dict[str, dict[str, Any]]
    path: Path
    version: str

    @property
    def source(self) -> str:
        """What every imported entry names as its source."""
        return f"LiteLLM model price map ({self.path.name}, litellm {self.version})"


@dataclass
class Imported:
    """The entries made from the map, and the map keys left out with the reason."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def installed_map_path() -> Path:
    """Where the installed LiteLLM package keeps its price map (LiteLLM is not imported).

    Raises:
        ConfigurationError: LiteLLM is not installed, or its package has no price map.
    """
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("LiteLLM is not installed: pip install litellm (or pass --map FILE)")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / MAP_FILE
        if candidate.is_file():
            return candidate
    raise ConfigurationError(f"the installed LiteLLM package has no {MAP_FILE} (pass --map FILE)")


def read_price_map(path: Path | None = None, *, version: str | None = None) -> PriceMap:
    """Read LiteLLM's price map (the installed package's when ``path`` is None).

    Args:
        path: a map file in LiteLLM's JSON layout.
        version: the LiteLLM version the map belongs to (default: the installed package's).

    Raises:
        DataError: the file is unreadable or not a JSON object.
        ConfigurationError: no path given and LiteLLM is not installed.
    """
    path = path if path is not None else installed_map_path()
    if version is None:
        try:
            version = importlib.metadata.version("litellm")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown version"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: price map not found") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the price map ({err})") from None
    if not isinstance(entries, dict):
        raise DataError(f"{path}:1: expected a JSON object of model -> prices, found {type(entries).__name__}")
    return PriceMap({k: v for k, v in entries.items() if isinstance(v, dict)}, path, version)


def map_key_for(price_map: PriceMap, model: str) -> str | None:
    """The map's key for ``model`` as a LiteLLM id: ``gpt-5-mini``, ``openai/gpt-5-mini``, ``mistral/...``."""
    if model in price_map.entries:
        return model
    provider, _, name = model.partition("/")
    entry = price_map.entries.get(name) if name else None
    if entry is not None and entry.get("litellm_provider") == provider:
        return name
    return None


def _per_mtok(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(f"{value * TOKENS_PER_PRICE_UNIT:.10g}")


def entry_from_map(key: str, entry: dict[str, Any], *, source: str, as_of: dt.date) -> tuple[str, dict[str, Any]] | str:
    """(table id, table entry) for one map entry, or the reason it cannot be priced per token.

    The id is LiteLLM's ``provider/name`` (the bare map key becomes an alias) so the ids a spec
    uses for LiteLLM match.
    """
    prices = {
        "input": _per_mtok(entry, "input_cost_per_token"),
        "output": _per_mtok(entry, "output_cost_per_token"),
    }
    if prices["input"] is None or prices["output"] is None:
        return "no per-token input and output price"
    if prices["input"] == 0 and prices["output"] == 0:
        return "input and output both priced at $0 (unknown, not free)"
    optional = {
        "cached_input": _per_mtok(entry, "cache_read_input_token_cost"),
        "cache_write": _per_mtok(entry, "cache_creation_input_token_cost"),
        "batch_input": _per_mtok(entry, "input_cost_per_token_batches"),
        "batch_output": _per_mtok(entry, "output_cost_per_token_batches"),
    }
    if optional["batch_input"] is None or optional["batch_output"] is None:
        optional["batch_input"] = optional["batch_output"] = None
    provider = entry.get("litellm_provider")
    table_id, aliases = key, []
    if "/" not in key and isinstance(provider, str) and _PLAIN_PROVIDER.match(provider):
        table_id, aliases = f"{provider}/{key}", [key]
    data: dict[str, Any] = {"display_name": key, **prices, **{k: v for k, v in optional.items() if v is not None}}
    if aliases:
        data["aliases"] = aliases
    data.update(source=source, as_of=as_of)
    try:
        ModelPrice.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return table_id, data


def import_prices(price_map: PriceMap, models: list[str] | None, *, as_of: dt.date) -> Imported:
    """Table entries for ``models`` (LiteLLM ids), or for every text model of the map when None.

    Raises:
        PricingError: a model asked for is not in the map, or has no usable per-token price.
    """
    imported = Imported()
    if models:
        wanted = []
        for model in models:
            key = map_key_for(price_map, model)
            if key is None:
                raise PricingError(f"model {model!r} is not in {price_map.source} at {price_map.path}")
            wanted.append(key)
    else:
        wanted = [k for k, v in price_map.entries.items() if v.get("mode") in TEXT_MODES]
    taken = set(price_map.entries)
    for key in dict.fromkeys(wanted):
        made = entry_from_map(key, price_map.entries[key], source=price_map.source, as_of=as_of)
        if isinstance(made, str):
            if models:
                raise PricingError(f"model {key!r} in {price_map.source}: {made}; not imported")
            imported.skipped[key] = made
            continue
        table_id, data = made
        if table_id != key and table_id in taken:
            table_id = key  # the map has its own entry under the provider-prefixed id
            data.pop("aliases", None)
        imported.models[table_id] = data
    return imported
