"""``train``: LoRA fine-tune the student on Tinker from short-format data (``distilleval train``).

Checks everything local first (key, SDK, base model, data file, rows vs batch size, training
price), then creates the training client under a deadline, trains, and writes ``manifest.json``
with the ``tinker://`` sampler path to put in the spec's ``student.model``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from distilleval.costs.training_plan import DEFAULT_HELDOUT_FRACTION
from distilleval.pipeline.stages.arguments import Say, SpecArg, as_spec, silent

if TYPE_CHECKING:
    from distilleval.costs.pricing import ModelPrice
    from distilleval.training.tinker_trainer import TrainingConfig, TrainingResult


@dataclass(frozen=True)
class TrainResult:
    """A finished LoRA run.

    Attributes:
        sampler_path: the ``tinker://`` weights to set as the spec's ``student.model``.
        manifest_path: the ``manifest.json`` written.
        pricing_table: the pricing table's label.
        manifest: the manifest (recipe, data, steps, losses, training and storage cost).
    """

    sampler_path: str
    manifest_path: Path
    pricing_table: str
    manifest: Mapping[str, Any]


def train(
    spec: SpecArg,
    data: str | Path,
    *,
    recipe: Literal["cookbook", "seed"] | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    rank: int | None = None,
    lr: float | None = None,
    max_restarts: int = 2,
    checkpoint_ttl_days: float = 7.0,
    base_model: str | None = None,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    seed: int = 0,
    save_every: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    pricing: str | None = None,
    connect_deadline: float = 120.0,
    service_factory: Callable[[], Any] | None = None,
    say: Say = silent,
    warn: Say = silent,
) -> TrainResult:
    """Train the student's LoRA on ``data`` and write its manifest.

    Args:
        spec: the task spec, or its YAML file.
        data: short-format training JSONL (from ``label``).
        recipe: ``cookbook`` or ``seed`` (default: the spec's ``training.recipe``).
        epochs, batch_size, rank, lr: override the spec's ``training`` block, else the recipe's.
        max_restarts: continue on a new client from the last saved state after up to N failed steps.
        checkpoint_ttl_days: intermediate checkpoints expire after this long (the final ones are kept).
        base_model: default: the spec's ``training.base_model``.
        heldout_fraction: share of rows kept out for held-out loss.
        seed: the held-out split's and the batches' seed.
        save_every: also save state every N steps.
        out: output folder (default ``runs/<spec>-train``).
        resume: continue the run in ``out`` from its last checkpoint.
        pricing: pricing table YAML (default: the spec's, else the bundled table).
        connect_deadline: give up creating the Tinker client after this many seconds.
        service_factory: replaces ``tinker.ServiceClient`` (tests).
        say: where progress lines go; warn: where warnings go (duplicate training rows).

    Raises:
        DistillevalError: bad arguments, key, base model, data or price, before training (one line);
        BackendError: the service failed (naming the checkpoints saved to ``resume`` from).
    """
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

    for name, value in (("epochs", epochs), ("batch-size", batch_size), ("rank", rank), ("lr", lr),
                        ("save-every", save_every), ("checkpoint-ttl-days", checkpoint_ttl_days)):
        if value is not None and value <= 0:
            raise DistillevalError(f"--{name} must be positive, got {value}")
    if not 0 <= heldout_fraction < 1:
        raise DistillevalError(f"--heldout-fraction must be in [0, 1), got {heldout_fraction}")

    spec, _ = as_spec(spec)
    require_api_key()
    if service_factory is None:
        import_tinker()
    training = spec.training
    base_model_flag = base_model
    base_model = base_model or training.base_model
    model = base_model_for(base_model)
    template = template_for(base_model)
    table = resolve_pricing(spec, pricing)
    price_as = training_price_key(spec, table, base_model=base_model) or training.price_as
    price = table.price_for(price_as)
    if price.training_per_mtok_usd is None:
        raise DistillevalError(f"{table.path}: {price_as}: no 'training' price to cost the run with")

    data_path = Path(data)
    conversations = read_conversations(data_path)
    repeated = duplicate_conversations(conversations)
    if repeated is not None:
        warn(repeated.describe(str(data_path)))
    renderer = renderer_for(base_model)
    examples = build_examples(conversations, renderer, source=data_path)
    train_rows, _ = split_heldout(examples, heldout_fraction, seed)

    def chosen(flag: Any, name: str) -> Any:
        return flag if flag is not None else (getattr(training, name) if training.explicitly_set(name) else None)

    requested = Requested(
        learning_rate=chosen(lr, "learning_rate"),
        epochs=chosen(epochs, "epochs"),
        batch_size=chosen(batch_size, "batch_size"),
        rank=chosen(rank, "rank"),
    )
    plan = plan_training(
        len(train_rows), requested, recipe=recipe or training.recipe, model=base_model,
        hidden_size=model.hidden_size, lr_family=model.lr_family,
    )
    config = TrainingConfig(
        base_model=base_model,
        rank=plan.rank,
        learning_rate=plan.learning_rate,
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        heldout_fraction=heldout_fraction,
        seed=seed,
        save_every_steps=save_every,
        checkpoint_ttl_s=max(3600, round(checkpoint_ttl_days * 86400)),
        max_restarts=max(0, max_restarts),
    )
    check_enough_rows(len(train_rows), config.batch_size, source=str(data_path))
    data_sha256 = file_sha256(data_path)

    out_dir = Path(out) if out else Path("runs") / f"{spec.name}-train"
    say(
        f"training {config.base_model} (LoRA rank {config.rank}) on {len(examples)} rows of {data_path}: "
        f"{config.epochs} epochs, batch {config.batch_size}, {plan.steps} steps, lr {config.learning_rate:.3g} "
        f"linear decay ({plan.recipe} recipe: {plan.learning_rate_source})"
    )
    for line in plan.adaptations:
        say(f"adapted: {line}")
    for line in plan.warnings:
        say(f"warning: {line}")
    heldout_rows = len(examples) - len(train_rows)
    if config.heldout_fraction > 0 and heldout_rows == 0:
        say(f"note: {len(examples)} rows x --heldout-fraction {config.heldout_fraction:g} keeps no held-out row; "
            "no held-out loss will be reported")
    service = connect(service_factory=service_factory)
    # The service's own list is the authority online; the offline copy only checked it above.
    live = live_catalogue(
        lambda: rest_client(service), call=lambda fn, doing: call_with_deadline(fn, deadline_s=connect_deadline, doing=doing)
    )
    live.require_trainable(config.base_model, where="--base-model" if base_model_flag else "training.base_model")
    try:
        result = train_lora(
            service,
            examples,
            config,
            out_dir,
            data_sha256=data_sha256,
            source=str(data_path),
            resume=resume,
            connect_deadline_s=connect_deadline,
            log=say,
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
        pricing=table,
        price_as=price_as,
        plan=plan,
        storage=_storage(service, result, config, price, deadline_s=connect_deadline),
    )
    path = write_manifest(out_dir, manifest)
    return TrainResult(sampler_path=result.sampler_path, manifest_path=path, pricing_table=table.label,
                       manifest=manifest)


def _storage(service: Any, result: TrainingResult, config: TrainingConfig, price: ModelPrice, *,
             deadline_s: float) -> dict[str, Any]:
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
