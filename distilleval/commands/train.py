"""`distilleval train`: LoRA fine-tune the student on Tinker from short-format data.

Checks everything local first (key, SDK, base model, data file, rows vs batch size, training
price), then creates the training client under a deadline, trains, and writes
``manifest.json`` with the ``tinker://`` sampler path to put in the spec's ``student.model``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distilleval.commands.argument_types import non_negative_int, positive_float, positive_int
from distilleval.commands.options import add_pricing_option
from distilleval.costs.training_plan import DEFAULT_HELDOUT_FRACTION

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


def _positive(name: str, value: float | None) -> None:
    from distilleval.errors import DistillevalError

    if value is not None and value <= 0:
        raise DistillevalError(f"--{name} must be positive, got {value}")


def _storage(service: Any, result: Any, config: Any, price: Any, *, deadline_s: float) -> dict[str, Any]:
    """The storage block of the manifest, from the sizes the service reports for the run's checkpoints."""
    from distilleval.backends.tinker.connection import call_with_deadline, rest_client
    from distilleval.errors import DistillevalError
    from distilleval.training.manifest import storage_cost
    from distilleval.training.tinker_trainer import list_saved_checkpoints

    rate = price.storage_usd_per_gb_month
    source = f"{price.display_name}: {price.source} (as of {price.as_of})"
    try:
        listed = list_saved_checkpoints(
            lambda: rest_client(service), result.run_ids,
            call=lambda fn, doing: call_with_deadline(fn, deadline_s=deadline_s, doing=doing),
        )
    except DistillevalError as err:  # the weights are saved; a failed listing only leaves the cost open
        return storage_cost(None, ttl_s=config.checkpoint_ttl_s, rate_usd_per_gb_month=rate, rate_source=source,
                            unavailable=f"the checkpoint listing failed ({err})")
    return storage_cost(listed, ttl_s=config.checkpoint_ttl_s, rate_usd_per_gb_month=rate, rate_source=source)


def run(args: argparse.Namespace, *, service_factory: Callable[[], Any] | None = None, spec: Any = None) -> int:
    """Train and write the manifest; ``service_factory`` replaces ``tinker.ServiceClient`` in tests;
    ``spec``: the spec already loaded (``iterate`` passes a run's resolved spec), else ``args.spec`` is read."""
    import sys

    from distilleval.backends.tinker.catalogue import live_catalogue
    from distilleval.backends.tinker.connection import (
        call_with_deadline,
        connect,
        import_tinker,
        require_api_key,
        rest_client,
    )
    from distilleval.backends.tinker.rendering import base_model_for, renderer_for, template_for
    from distilleval.costs.estimates import training_price_key
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.errors import BackendError, DistillevalError
    from distilleval.files import file_sha256
    from distilleval.spec.task_spec import load_spec
    from distilleval.training.data import build_examples, read_conversations
    from distilleval.training.duplicate_rows import duplicate_conversations
    from distilleval.training.manifest import build_manifest, write_manifest
    from distilleval.training.recipe import Requested, plan_training
    from distilleval.training.tinker_trainer import (
        CHECKPOINT_LOG,
        CheckpointLog,
        TrainingConfig,
        check_enough_rows,
        split_heldout,
        train_lora,
    )

    for name in ("epochs", "batch-size", "rank", "lr", "save-every", "checkpoint-ttl-days"):
        _positive(name, getattr(args, name.replace("-", "_")))
    if not 0 <= args.heldout_fraction < 1:
        raise DistillevalError(f"--heldout-fraction must be in [0, 1), got {args.heldout_fraction}")

    spec = spec if spec is not None else load_spec(args.spec)
    require_api_key()
    if service_factory is None:
        import_tinker()
    training = spec.training
    base_model = args.base_model or training.base_model
    model = base_model_for(base_model)
    template = template_for(base_model)
    pricing = resolve_pricing(spec, args.pricing)
    price_as = training_price_key(spec, pricing, base_model=base_model) or training.price_as
    price = pricing.price_for(price_as)
    if price.training_per_mtok_usd is None:
        raise DistillevalError(f"{pricing.path}: {price_as}: no 'training' price to cost the run with")

    data_path = Path(args.data)
    conversations = read_conversations(data_path)
    repeated = duplicate_conversations(conversations)
    if repeated is not None:
        print(f"distilleval train: warning: {repeated.describe(str(data_path))}", file=sys.stderr)
    renderer = renderer_for(base_model)
    examples = build_examples(conversations, renderer, source=data_path)
    train_rows, _ = split_heldout(examples, args.heldout_fraction, args.seed)

    def chosen(flag: Any, name: str) -> Any:
        return flag if flag is not None else (getattr(training, name) if training.explicitly_set(name) else None)

    requested = Requested(
        learning_rate=chosen(args.lr, "learning_rate"),
        epochs=chosen(args.epochs, "epochs"),
        batch_size=chosen(args.batch_size, "batch_size"),
        rank=chosen(args.rank, "rank"),
    )
    plan = plan_training(
        len(train_rows), requested, recipe=args.recipe or training.recipe, model=base_model,
        hidden_size=model.hidden_size, lr_family=model.lr_family,
    )
    config = TrainingConfig(
        base_model=base_model,
        rank=plan.rank,
        learning_rate=plan.learning_rate,
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        heldout_fraction=args.heldout_fraction,
        seed=args.seed,
        save_every_steps=args.save_every,
        checkpoint_ttl_s=max(3600, round(args.checkpoint_ttl_days * 86400)),
        max_restarts=max(0, args.max_restarts),
    )
    check_enough_rows(len(train_rows), config.batch_size, source=str(data_path))
    data_sha256 = file_sha256(data_path)

    out_dir = Path(args.out) if args.out else Path("runs") / f"{spec.name}-train"
    print(
        f"training {config.base_model} (LoRA rank {config.rank}) on {len(examples)} rows of {data_path}: "
        f"{config.epochs} epochs, batch {config.batch_size}, {plan.steps} steps, lr {config.learning_rate:.3g} "
        f"linear decay ({plan.recipe} recipe: {plan.learning_rate_source})"
    )
    for line in plan.adaptations:
        print(f"adapted: {line}")
    for line in plan.warnings:
        print(f"warning: {line}")
    heldout_rows = len(examples) - len(train_rows)
    if config.heldout_fraction > 0 and heldout_rows == 0:
        print(f"note: {len(examples)} rows x --heldout-fraction {config.heldout_fraction:g} keeps no held-out row; "
              "no held-out loss will be reported")
    service = connect(service_factory=service_factory)
    # The service's own list is the authority online; the offline copy only checked it above.
    live = live_catalogue(
        lambda: rest_client(service), call=lambda fn, doing: call_with_deadline(fn, deadline_s=args.connect_deadline, doing=doing)
    )
    live.require_trainable(config.base_model, where="--base-model" if args.base_model else "training.base_model")
    try:
        result = train_lora(
            service,
            examples,
            config,
            out_dir,
            data_sha256=data_sha256,
            source=str(data_path),
            resume=args.resume,
            connect_deadline_s=args.connect_deadline,
        )
    except BackendError as err:
        saved = CheckpointLog(out_dir / CHECKPOINT_LOG).records()
        if not saved:
            raise
        raise BackendError(
            f"{err}; {len(saved)} checkpoint(s) are saved in {out_dir}: run the same command with --resume to continue",
            kind=err.kind,
        ) from None
    manifest = build_manifest(
        spec_name=spec.name,
        template=template,
        config=config,
        result=result,
        data_path=data_path,
        data_sha256=data_sha256,
        rows=len(examples),
        prompt_tokens=sum(len(e.tokens) - e.trained_tokens for e in examples),
        completion_tokens=sum(e.trained_tokens for e in examples),
        pricing=pricing,
        price_as=price_as,
        plan=plan,
        storage=_storage(service, result, config, price, deadline_s=args.connect_deadline),
    )
    path = write_manifest(out_dir, manifest)
    cost = manifest["training_cost"]
    print(f"trained tokens: {cost['trained_tokens']:,}; training cost ${cost['cost_usd']:.4f} "
          f"(at ${cost['training_price_per_mtok_usd']}/1M, {pricing.label})")
    storage = manifest["storage_cost"]
    if storage["cost_usd"] is not None:
        print(f"checkpoint storage: ${storage['expiring_cost_usd']:.4f} for {storage['expiring_bytes'] / 1e9:.2f} GB "
              f"until expiry, then ${storage['kept_cost_usd_per_month']:.4f}/month for the {storage['kept_bytes'] / 1e9:.2f} GB kept")
    else:
        print(storage["note"])
    print(f"sampler weights: {result.sampler_path}")
    print(f"manifest: {path}")
    print(f"next: set student.model: {result.sampler_path} in {args.spec} and run `distilleval eval {args.spec}`")
    return 0
