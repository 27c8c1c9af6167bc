"""`distilleval train`: LoRA fine-tune the student on Tinker from short-format data.

The work is ``pipeline.stages.train`` (local checks first, then the training client under a
deadline, the run, and ``manifest.json`` with the ``tinker://`` sampler path to put in the spec's
``student.model``); this module parses the arguments and prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from distilleval.commands.argument_types import non_negative_int, positive_float, positive_int
from distilleval.commands.options import add_pricing_option
from distilleval.costs.training_plan import DEFAULT_HELDOUT_FRACTION

if TYPE_CHECKING:
    from distilleval.pipeline.stages.train import TrainResult

HELP = "LoRA fine-tune the student on Tinker from labelled data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval train`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--data", required=True, help="short-format training JSONL (from `distilleval label`)")
    parser.add_argument("--recipe", choices=("cookbook", "seed"), default=None,
                        help="cookbook: lr from the cookbook's formula, batch/epochs adapted to small data; "
                        "seed: lr 1e-4, 4 epochs, rank 32, batch 128 as is (default: spec training.recipe)")
    parser.add_argument("--epochs", type=int, default=None, help="default: spec training.epochs, else the recipe's")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="default: spec training.batch_size, else the recipe's")
    parser.add_argument("--rank", type=positive_int, default=None, help="LoRA rank; default: spec training.rank (32)")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="peak learning rate; default: spec training.learning_rate, else the recipe's")
    parser.add_argument("--max-restarts", type=non_negative_int, default=2, metavar="N",
                        help="continue on a new client from the last saved state after up to N failed steps")
    parser.add_argument("--checkpoint-ttl-days", type=positive_float, default=7.0, metavar="DAYS",
                        help="intermediate checkpoints expire after this long (the final ones are kept)")
    parser.add_argument("--base-model", default=None, help="default: spec training.base_model")
    parser.add_argument("--heldout-fraction", type=float, default=DEFAULT_HELDOUT_FRACTION,
                        help="share of rows kept out for held-out loss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-every", type=positive_int, default=None, metavar="STEPS", help="also save state every N steps")
    parser.add_argument("--out", default=None, help="output folder; default runs/<spec>-train")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_pricing_option(parser)
    parser.add_argument("--connect-deadline", type=positive_float, default=120.0, metavar="SECONDS",
                        help="give up creating the Tinker client after this long")


def run(args: argparse.Namespace, *, service_factory: Callable[[], Any] | None = None, spec: Any = None) -> int:
    """Train and write the manifest (``pipeline.stages.train``); ``service_factory`` replaces
    ``tinker.ServiceClient`` in tests; ``spec``: the spec already loaded (``iterate`` passes a run's
    resolved spec), else ``args.spec`` is read."""
    import sys

    from distilleval.pipeline.stages.train import train

    result = train(
        spec if spec is not None else args.spec, args.data, recipe=args.recipe, epochs=args.epochs,
        batch_size=args.batch_size, rank=args.rank, lr=args.lr, max_restarts=args.max_restarts,
        checkpoint_ttl_days=args.checkpoint_ttl_days, base_model=args.base_model,
        heldout_fraction=args.heldout_fraction, seed=args.seed, save_every=args.save_every, out=args.out,
        resume=args.resume, pricing=args.pricing, connect_deadline=args.connect_deadline,
        service_factory=service_factory, say=print,
        warn=lambda line: print(f"distilleval train: warning: {line}", file=sys.stderr),
    )
    for line in result_lines(result):
        print(line)
    print(f"next: set student.model: {result.sampler_path} in {args.spec} and run `distilleval eval {args.spec}`")
    return 0


def result_lines(result: TrainResult) -> list[str]:
    """The training and storage cost, the sampler weights and the manifest's path."""
    cost, storage = result.manifest["training_cost"], result.manifest["storage_cost"]
    lines = [f"trained tokens: {cost['trained_tokens']:,}; training cost ${cost['cost_usd']:.4f} "
             f"(at ${cost['training_price_per_mtok_usd']}/1M, {result.pricing_table})"]
    if storage["cost_usd"] is not None:
        lines.append(f"checkpoint storage: ${storage['expiring_cost_usd']:.4f} for {storage['expiring_bytes'] / 1e9:.2f} GB "
                     f"until expiry, then ${storage['kept_cost_usd_per_month']:.4f}/month for the "
                     f"{storage['kept_bytes'] / 1e9:.2f} GB kept")
    else:
        lines.append(storage["note"])
    lines.append(f"sampler weights: {result.sampler_path}")
    lines.append(f"manifest: {result.manifest_path}")
    return lines
