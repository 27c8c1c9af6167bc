"""``manifest.json``: what a training run produced and what it cost, for the eval that follows.

The manifest records the ``tinker://`` sampler path (the spec's new ``student.model``), the
base model and chat template, every hyper-parameter, the recipe (learning rate and where it
came from, steps, every adaptation to small data and its reason), restarts after failures, the data file's SHA-256 and row
counts, token counts, losses per epoch, and the training cost: trained tokens x the
training price of the pricing table (named with its hash so the figure can be traced).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from distilleval.costs.cost_model import training_cost_usd
from distilleval.costs.pricing import PricingTable
from distilleval.errors import PricingError
from distilleval.files import write_text_atomic
from distilleval.training.recipe import TrainingPlan
from distilleval.training.tinker_trainer import TrainingConfig, TrainingResult

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def training_cost(trained_tokens: int, *, pricing: PricingTable, price_as: str) -> dict[str, Any]:
    """The training cost block: trained tokens x the table's training price.

    ``trained_tokens`` already counts every epoch (each row once per epoch), so the cost is
    computed with ``epochs=1``.

    Raises:
        PricingError: the entry has no ``training`` price.
    """
    price = pricing.price_for(price_as)
    if price.training_per_mtok_usd is None:
        raise PricingError(
            f"{price_as!r} has no 'training' price (USD per 1M trained tokens) in {pricing.path}; add one"
        )
    return {
        "trained_tokens": trained_tokens,
        "training_price_per_mtok_usd": price.training_per_mtok_usd,
        "cost_usd": training_cost_usd(trained_tokens, 1, price.training_per_mtok_usd),
        "basis": "projected",
        "price_as": price_as,
        "pricing_table": pricing.label,
        "pricing_sha256": pricing.sha256,
        "note": "trained tokens counted by distilleval (inputs of every forward_backward call); "
        "the Tinker bill is the authority",
    }


DAYS_PER_MONTH = 30.0


def storage_cost(
    checkpoints: list[dict[str, Any]] | None,
    *,
    ttl_s: int | None,
    rate_usd_per_gb_month: float | None,
    rate_source: str,
    unavailable: str | None = None,
) -> dict[str, Any]:
    """What the run's saved checkpoints cost to store: GB x months x rate.

    Checkpoints with an expiry cost their size for ``ttl_s`` (an upper bound: they were saved
    at different times before the end); those without one (the final state and sampler
    weights) cost their size every month they are kept.

    Args:
        checkpoints: as ``tinker_trainer.list_saved_checkpoints`` returns them (None: unknown).
        ttl_s: the intermediate checkpoints' time-to-live.
        rate_usd_per_gb_month: the table's ``storage_gb_month`` (None: the table has none).
        rate_source: where the rate comes from, for the record.
        unavailable: why the sizes are unknown, when they are.
    """
    if checkpoints is None or rate_usd_per_gb_month is None:
        reason = unavailable or (
            "the pricing table has no storage_gb_month rate for this model" if checkpoints is not None else "unknown"
        )
        return {"cost_usd": None, "note": f"storage not costed: {reason}"}
    if any(c["size_bytes"] is None for c in checkpoints):
        return {"cost_usd": None, "note": "storage not costed: the service did not report every checkpoint's size"}
    kept = sum(c["size_bytes"] for c in checkpoints if c["expires_at"] is None)
    expiring = sum(c["size_bytes"] for c in checkpoints if c["expires_at"] is not None)
    months = (ttl_s or 0) / 86400 / DAYS_PER_MONTH
    expiring_usd = expiring / 1e9 * months * rate_usd_per_gb_month
    kept_per_month = kept / 1e9 * rate_usd_per_gb_month
    return {
        "checkpoints": len(checkpoints),
        "kept_bytes": kept,
        "expiring_bytes": expiring,
        "ttl_days": None if ttl_s is None else ttl_s / 86400,
        "rate_usd_per_gb_month": rate_usd_per_gb_month,
        "rate_source": rate_source,
        "expiring_cost_usd": expiring_usd,
        "kept_cost_usd_per_month": kept_per_month,
        "cost_usd": expiring_usd + kept_per_month,
        "basis": "sizes reported by the service; kept checkpoints counted for their first month",
    }


def build_manifest(
    *,
    spec_name: str,
    template: str,
    config: TrainingConfig,
    result: TrainingResult,
    data_path: Path,
    data_sha256: str,
    rows: int,
    prompt_tokens: int,
    completion_tokens: int,
    pricing: PricingTable,
    price_as: str,
    plan: TrainingPlan | None = None,
    storage: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The manifest as a JSON-ready dict (see the module docstring for the fields)."""
    created = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    return {
        "manifest_version": MANIFEST_VERSION,
        "created_at": created,
        "spec": spec_name,
        "student_model": result.sampler_path,
        "sampler_path": result.sampler_path,
        "state_path": result.state_path,
        "base_model": config.base_model,
        "chat_template": template,
        "hyperparameters": asdict(config),
        "data": {
            "path": str(data_path),
            "sha256": data_sha256,
            "rows": rows,
            "train_rows": result.train_rows,
            "heldout_rows": result.heldout_rows,
        },
        "tokens": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "trained_tokens": result.trained_tokens,
            "heldout_forward_tokens": result.heldout_tokens,
        },
        "steps": {"total": result.total_steps, "run_now": result.steps_run, "resumed_from": result.resumed_from_step},
        "recipe": None if plan is None else {
            "name": plan.recipe,
            "learning_rate": plan.learning_rate,
            "learning_rate_source": plan.learning_rate_source,
            "batch_size": plan.batch_size,
            "epochs": plan.epochs,
            "steps": plan.steps,
            "adaptations": plan.adaptations,
            "warnings": plan.warnings,
        },
        "restarts": result.restarts,
        "training_runs": result.run_ids,
        "epochs": [asdict(stats) for stats in result.epochs],
        "training_cost": training_cost(result.trained_tokens, pricing=pricing, price_as=price_as),
        "storage_cost": storage,
        "checkpoints": result.checkpoints,
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (temp file + rename)."""
    path = out_dir / MANIFEST_NAME
    write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    """Read a manifest written by ``write_manifest``."""
    return json.loads(path.read_text(encoding="utf-8"))
