"""The LoRA training loop on Tinker: epochs of shuffled batches, held-out loss, checkpoints.

One optimizer step per batch: ``forward_backward(batch, "cross_entropy")`` then
``optim_step(AdamParams(learning_rate=...))`` with a linearly decaying rate. At the end of
every epoch the held-out rows are scored with a forward pass, and the weights are saved
twice: ``save_state`` (weights + optimizer, to resume) and ``save_weights_for_sampler``
(the ``tinker://`` path a sampling client loads). Each checkpoint is appended to
``checkpoints.jsonl`` in the output folder, so an interrupted run restarts from the last
saved state with ``resume=True`` and replays the same batch order.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distilleval.backends.tinker.connection import (
    DEFAULT_CONNECT_DEADLINE_S,
    call_with_deadline,
    import_tinker,
    resolved,
    translate_error,
)
from distilleval.errors import ConfigurationError, DataError
from distilleval.files import write_text_atomic
from distilleval.training.data import SupervisedExample
from distilleval.training.schedule import linear_decay_lr

CHECKPOINT_LOG = "checkpoints.jsonl"
RUN_IDENTITY = "run.json"


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of one LoRA run (Tinker's recipe defaults)."""

    base_model: str
    rank: int = 32
    learning_rate: float = 1e-4
    epochs: int = 4
    batch_size: int = 128
    heldout_fraction: float = 0.1
    seed: int = 0
    save_every_steps: int | None = None
    lr_schedule: str = "linear"


@dataclass
class EpochStats:
    """Losses of one epoch (mean negative log-likelihood per trained token)."""

    epoch: int
    train_loss: float | None
    heldout_loss: float | None
    steps: int


@dataclass
class TrainingResult:
    """What a finished run produced."""

    sampler_path: str
    state_path: str
    total_steps: int
    steps_run: int
    resumed_from_step: int
    train_rows: int
    heldout_rows: int
    trained_tokens: int
    heldout_tokens: int
    epochs: list[EpochStats] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


def split_heldout(
    examples: Sequence[SupervisedExample], fraction: float, seed: int
) -> tuple[list[SupervisedExample], list[SupervisedExample]]:
    """Set aside ``floor(n * fraction)`` rows, chosen by a seeded shuffle, for held-out loss.

    Returns:
        (train, heldout), each in file order.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {fraction}")
    count = int(len(examples) * fraction)
    order = list(range(len(examples)))
    random.Random(f"heldout:{seed}").shuffle(order)
    heldout_index = set(order[:count])
    train = [ex for i, ex in enumerate(examples) if i not in heldout_index]
    heldout = [ex for i, ex in enumerate(examples) if i in heldout_index]
    return train, heldout


def epoch_batches(train_rows: int, batch_size: int, epoch: int, seed: int) -> list[list[int]]:
    """Row indices of each batch of ``epoch``: a seeded shuffle cut into batches.

    Every row is used once per epoch; the last batch is smaller when ``batch_size`` does
    not divide ``train_rows``. The same (seed, epoch) always gives the same batches, which
    is what makes resuming mid-run exact.
    """
    order = list(range(train_rows))
    random.Random(f"epoch:{seed}:{epoch}").shuffle(order)
    return [order[start : start + batch_size] for start in range(0, train_rows, batch_size)]


def check_enough_rows(train_rows: int, batch_size: int, *, source: str) -> None:
    """Refuse data with fewer training rows than one batch.

    The common recipe drops incomplete batches and would run zero optimizer steps, silently.

    Raises:
        DataError: ``train_rows < batch_size``.
    """
    if train_rows < batch_size:
        raise DataError(
            f"{source}: {train_rows} training rows is fewer than one batch of {batch_size}; "
            f"pass --batch-size {max(1, train_rows)} or smaller, or label more data"
        )


def to_datum(example: SupervisedExample) -> Any:
    """A ``tinker.types.Datum`` for next-token cross-entropy on ``example``.

    The input is every token but the last; the targets are the inputs shifted by one,
    weighted by the weight of the token being predicted.
    """
    import numpy as np

    tinker = import_tinker()
    tokens = example.tokens
    return tinker.types.Datum(
        model_input=tinker.types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={
            "target_tokens": tinker.types.TensorData.from_numpy(np.asarray(tokens[1:], dtype=np.int64)),
            "weights": tinker.types.TensorData.from_numpy(np.asarray(example.weights[1:], dtype=np.float32)),
        },
    )


def weighted_nll(output: Any, datums: Sequence[Any]) -> tuple[float, float]:
    """(sum of -logprob x weight, sum of weights) over a forward(-backward) output."""
    total_loss = 0.0
    total_weight = 0.0
    for record, datum in zip(output.loss_fn_outputs, datums, strict=True):
        logprobs = record["logprobs"].to_numpy().astype("float64").ravel()
        weights = datum.loss_fn_inputs["weights"].to_numpy().astype("float64").ravel()
        total_loss += float(-(logprobs * weights).sum())
        total_weight += float(weights.sum())
    return total_loss, total_weight


class CheckpointLog:
    """``checkpoints.jsonl``: one line per saved checkpoint, appended and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[dict[str, Any]]:
        """Every checkpoint recorded so far, oldest first."""
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        out = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                # A last line cut short by a crash is the only damage an append can do;
                # the checkpoints before it are still good.
                if number == len(lines):
                    break
                raise DataError(f"{self.path}:{number}: checkpoint log line is not valid JSON") from None
        return out

    def append(self, record: dict[str, Any]) -> None:
        """Append one checkpoint record and fsync, so a crash loses at most that line."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def _run_identity(config: TrainingConfig, data_sha256: str, rows: int) -> dict[str, Any]:
    return {"config": asdict(config), "data_sha256": data_sha256, "rows": rows}


class _Tally:
    def __init__(self) -> None:
        self.loss = 0.0
        self.weight = 0.0
        self.steps = 0

    def mean(self) -> float | None:
        return self.loss / self.weight if self.weight > 0 else None


def train_lora(
    service: Any,
    examples: Sequence[SupervisedExample],
    config: TrainingConfig,
    out_dir: Path,
    *,
    data_sha256: str,
    source: str,
    resume: bool = False,
    connect_deadline_s: float = DEFAULT_CONNECT_DEADLINE_S,
    step_timeout_s: float = 900.0,
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Train a LoRA adapter on Tinker and save it for sampling.

    Args:
        service: a ``tinker.ServiceClient`` (or a test double with the same methods).
        examples: rendered training rows.
        config: hyper-parameters.
        out_dir: where ``run.json`` and ``checkpoints.jsonl`` go.
        data_sha256: hash of the data file (a resumed run must use the same data).
        source: the data file's name, for messages.
        resume: continue from the last checkpoint in ``out_dir``.
        connect_deadline_s: give up creating the training client after this long.
        step_timeout_s: give up on one step's result after this long.
        log: receives one line per epoch and checkpoint.

    Returns:
        The final sampler path, losses per epoch and token counts.

    Raises:
        DataError: fewer training rows than one batch.
        ConfigurationError: ``out_dir`` holds another run, or resume finds nothing to resume.
        BackendError: a Tinker call failed (the checkpoints saved so far stay usable).
    """
    tinker = import_tinker()
    train, heldout = split_heldout(examples, config.heldout_fraction, config.seed)
    check_enough_rows(len(train), config.batch_size, source=source)
    identity = _run_identity(config, data_sha256, len(examples))
    identity_path = out_dir / RUN_IDENTITY
    checkpoints = CheckpointLog(out_dir / CHECKPOINT_LOG)
    previous = checkpoints.records()
    if resume:
        if not previous:
            raise ConfigurationError(f"{out_dir}: nothing to resume (no {CHECKPOINT_LOG}); run without --resume")
        recorded = json.loads(identity_path.read_text(encoding="utf-8")) if identity_path.is_file() else None
        if recorded != identity:
            raise ConfigurationError(
                f"{out_dir}: the saved run used different data or hyper-parameters; "
                "resume with the same --data and options, or train into a new --out"
            )
    elif previous:
        raise ConfigurationError(f"{out_dir} already holds a training run; pass --resume to continue it or choose another --out")

    batches_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = config.epochs * batches_per_epoch
    last = previous[-1] if resume else None
    start_step = int(last["step"]) if last else 0
    trained_tokens = int(last["trained_tokens"]) if last else 0
    heldout_tokens = int(last["heldout_tokens"]) if last else 0

    if last:
        doing = f"loading checkpoint {last['state_path']}"
        client = call_with_deadline(
            lambda: resolved(
                service.create_training_client_from_state_with_optimizer(last["state_path"]),
                "create_training_client_from_state_with_optimizer",
            ),
            deadline_s=connect_deadline_s,
            doing=doing,
        )
        log(f"resumed from step {start_step}/{total_steps} ({last['state_path']})")
    else:
        client = call_with_deadline(
            lambda: resolved(
                service.create_lora_training_client(base_model=config.base_model, rank=config.rank, seed=config.seed),
                "create_lora_training_client",
            ),
            deadline_s=connect_deadline_s,
            doing=f"creating a LoRA training client for {config.base_model}",
        )
        # Written once the service has answered, so a failed start leaves no run behind.
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(identity_path, identity)

    train_datums = [to_datum(example) for example in train]
    heldout_datums = [to_datum(example) for example in heldout]
    result = TrainingResult(
        sampler_path=last["sampler_path"] if last and last.get("sampler_path") else "",
        state_path=last["state_path"] if last else "",
        total_steps=total_steps,
        steps_run=0,
        resumed_from_step=start_step,
        train_rows=len(train),
        heldout_rows=len(heldout),
        trained_tokens=trained_tokens,
        heldout_tokens=heldout_tokens,
        checkpoints=list(previous) if resume else [],
    )
    if resume:
        result.epochs = [
            EpochStats(epoch=r["epoch"], train_loss=r["train_loss"], heldout_loss=r["heldout_loss"], steps=batches_per_epoch)
            for r in previous
            if r.get("end_of_epoch")
        ]

    def wait(future: Any, doing: str) -> Any:
        try:
            return future.result(timeout=step_timeout_s)
        except Exception as err:  # noqa: BLE001 - translated at this one choke point
            raise translate_error(err, doing) from None

    tally = _Tally()
    batches: list[list[int]] = []
    for step in range(start_step, total_steps):
        epoch, index = divmod(step, batches_per_epoch)
        if index == 0 or not batches:
            batches = epoch_batches(len(train), config.batch_size, epoch, config.seed)
        batch = [train_datums[i] for i in batches[index]]
        learning_rate = linear_decay_lr(config.learning_rate, step, total_steps)
        doing = f"training step {step + 1}/{total_steps}"
        try:
            fb_future = client.forward_backward(batch, "cross_entropy")
            optim_future = client.optim_step(tinker.types.AdamParams(learning_rate=learning_rate))
        except Exception as err:  # noqa: BLE001
            raise translate_error(err, doing) from None
        output = wait(fb_future, doing)
        wait(optim_future, doing)
        loss, weight = weighted_nll(output, batch)
        tally.loss += loss
        tally.weight += weight
        tally.steps += 1
        trained_tokens += sum(datum.model_input.length for datum in batch)
        result.steps_run += 1
        done = step + 1
        end_of_epoch = done % batches_per_epoch == 0
        if not end_of_epoch and not (config.save_every_steps and done % config.save_every_steps == 0):
            continue
        heldout_loss = None
        if end_of_epoch and heldout_datums:
            scored = wait(client.forward(heldout_datums, "cross_entropy"), f"scoring the held-out rows after epoch {epoch + 1}")
            h_loss, h_weight = weighted_nll(scored, heldout_datums)
            heldout_loss = h_loss / h_weight if h_weight > 0 else None
            heldout_tokens += sum(datum.model_input.length for datum in heldout_datums)
        name = f"step-{done:06d}"
        state_path = wait(client.save_state(name), f"saving checkpoint {name}").path
        sampler_path = None
        if end_of_epoch:
            sampler_path = wait(client.save_weights_for_sampler(name), f"saving sampler weights {name}").path
            result.sampler_path = sampler_path
            stats = EpochStats(epoch=epoch + 1, train_loss=tally.mean(), heldout_loss=heldout_loss, steps=tally.steps)
            result.epochs.append(stats)
            log(
                f"epoch {epoch + 1}/{config.epochs}: train loss {_fmt(stats.train_loss)}, "
                f"held-out loss {_fmt(heldout_loss)} ({len(heldout)} rows), {sampler_path}"
            )
            tally = _Tally()
        result.state_path = state_path
        record = {
            "step": done,
            "epoch": epoch + 1,
            "end_of_epoch": end_of_epoch,
            "state_path": state_path,
            "sampler_path": sampler_path or result.sampler_path or None,
            "train_loss": result.epochs[-1].train_loss if end_of_epoch else None,
            "heldout_loss": heldout_loss,
            "trained_tokens": trained_tokens,
            "heldout_tokens": heldout_tokens,
        }
        checkpoints.append(record)
        result.checkpoints.append(record)
    result.trained_tokens = trained_tokens
    result.heldout_tokens = heldout_tokens
    if not result.sampler_path:
        raise ConfigurationError(f"{out_dir}: the run has no sampler checkpoint (nothing left to train?)")
    return result


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
