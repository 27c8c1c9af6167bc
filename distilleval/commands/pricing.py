"""`distilleval pricing`: import prices from LiteLLM's model price map, and show a model's price.

  distilleval pricing import [MODEL...] [--out FILE]   a dated table from LiteLLM's bundled map
  distilleval pricing show MODEL [--pricing FILE]      what MODEL is priced at, and from which table

An imported table defers to the bundled one (``defer_to: bundled``): pass it with ``--pricing``
and the bundled prices still win where both know a model; the import fills the gaps.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from distilleval.commands.argument_types import non_negative_int
from distilleval.commands.options import add_pricing_option

HELP = "Import prices from LiteLLM's model price map; show what a model is priced at and from which table"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, found {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``pricing import`` and ``pricing show`` to ``parser``."""
    verbs = parser.add_subparsers(dest="pricing_command", metavar="ACTION", required=True)
    importer = verbs.add_parser(
        "import", help="write a dated pricing table from LiteLLM's model price map (read as JSON, offline)"
    )
    importer.add_argument("models", nargs="*", metavar="MODEL", help="LiteLLM ids to import (default: every text model)")
    importer.add_argument("--out", help="table to write (default: litellm-prices-AS_OF.yaml)")
    importer.add_argument("--map", help="a price map in LiteLLM's JSON layout (default: the installed LiteLLM's)")
    importer.add_argument("--as-of", type=_date, help="the date the prices are read as (default: today)")
    shower = verbs.add_parser("show", help="what MODEL is priced at, and from which table")
    shower.add_argument("model", metavar="MODEL")
    add_pricing_option(shower, "pricing table YAML (default: the bundled table)")
    shower.add_argument(
        "--max-price-age-days", type=non_negative_int, default=None,
        help="flag a price read longer ago than this (default 180)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``pricing import`` or ``pricing show``; returns 0."""
    if args.pricing_command == "import":
        return _import(args)
    return _show(args)


def _import(args: argparse.Namespace) -> int:
    import yaml

    from distilleval.costs.litellm_prices import import_prices, read_price_map
    from distilleval.costs.pricing import PricingFile
    from distilleval.errors import PricingError
    from distilleval.files import write_text_atomic

    price_map = read_price_map(Path(args.map) if args.map else None)
    as_of = args.as_of or dt.date.today()
    imported = import_prices(price_map, args.models or None, as_of=as_of)
    if not imported.models:
        raise PricingError(f"{price_map.path}: no model with a per-token price to import")
    table = {
        "as_of": as_of,
        "currency": "USD",
        "description": f"Imported from {price_map.source} by `distilleval pricing import`.",
        "defer_to": "bundled",
        "models": imported.models,
    }
    PricingFile.model_validate(table)  # the format check a later load repeats; fails here, before writing
    out = Path(args.out or f"litellm-prices-{as_of.isoformat()}.yaml")
    header = (
        f"# {len(imported.models)} models from {price_map.source}, USD per 1M tokens, read {as_of.isoformat()}.\n"
        "# defer_to: bundled -- the bundled table's prices win where both know a model; delete the line\n"
        "# to let these win.\n"
    )
    write_text_atomic(out, header + yaml.dump(table, Dumper=_no_aliases_dumper(), sort_keys=False, allow_unicode=True, width=1000))
    skipped = f"; {len(imported.skipped)} map entries skipped (no usable per-token price)" if imported.skipped else ""
    print(f"{out}: {len(imported.models)} models from {price_map.source}{skipped}")
    return 0


def _no_aliases_dumper():
    import yaml

    class NoAliases(yaml.SafeDumper):
        """Writes every date in full: a table read by people has no ``&id001`` anchors."""

        def ignore_aliases(self, data) -> bool:
            return True

    return NoAliases


def _usd_per_mtok(value: float) -> str:
    return f"${value:,.6g}"


def _show(args: argparse.Namespace) -> int:
    from distilleval.costs.pricing import DEFAULT_MAX_PRICE_AGE_DAYS, load_pricing
    from distilleval.errors import PricingError

    pricing = load_pricing(args.pricing)
    found = pricing.locate(args.model)
    if found is None:
        pricing.price_for(args.model)  # raises, naming every table consulted
        raise PricingError(f"model {args.model!r} has no price")  # unreachable: price_for raised
    table, key, entry = found
    line = f"{args.model}: {_usd_per_mtok(entry.input_per_mtok_usd)} input, {_usd_per_mtok(entry.output_per_mtok_usd)} output"
    extras = []
    if entry.cached_input_per_mtok_usd is not None:
        extras.append(f"{_usd_per_mtok(entry.cached_input_per_mtok_usd)} cached input")
    if entry.cache_write_per_mtok_usd is not None:
        extras.append(f"{_usd_per_mtok(entry.cache_write_per_mtok_usd)} cache write")
    if entry.has_batch_tier:
        batch_in, batch_out = entry.batch_prices()
        extras.append(f"batch {_usd_per_mtok(batch_in)} input, {_usd_per_mtok(batch_out)} output")
    if entry.training_per_mtok_usd is not None:
        extras.append(f"{_usd_per_mtok(entry.training_per_mtok_usd)} training")
    print(line + "".join(f", {extra}" for extra in extras) + " per 1M tokens")
    if entry.cpu_usd_per_hour is not None:
        print(f"  CPU: ${entry.cpu_usd_per_hour:g} per hour")
    print(f"  entry {key!r} ({entry.display_name}) in {table.path}: {table.own_label}")
    if table is not pricing:
        print(f"  {table.path.name} wins: {pricing.path.name} defers to it")
    elif pricing.deferred_to is not None:
        print(f"  not in {pricing.deferred_to.label}, which {pricing.path.name} defers to")
    print(f"  source: {entry.source}; as of {entry.as_of.isoformat()}")
    max_age = DEFAULT_MAX_PRICE_AGE_DAYS if args.max_price_age_days is None else args.max_price_age_days
    age = (dt.date.today() - entry.as_of).days
    if age > max_age:
        print(f"  stale: read {age} days ago (older than {max_age} days); check the provider's current price")
    return 0
