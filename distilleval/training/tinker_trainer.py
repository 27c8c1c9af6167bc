"""The LoRA training loop on Tinker: epochs of shuffled batches, held-out loss, checkpoints.

One optimizer step per batch: ``forward_backward(batch, "cross_entropy")`` then
``optim_step(AdamParams(...))`` with a linearly decaying rate and the cookbook's Adam settings
(beta1 0.9, beta2 0.95, eps 1e-8; the SDK's own default eps is 1e-12). As in the cookbook's
trainer, submission is pipelined: step k+1 is submitted before the results of step k are
awaited, so the service always has the next step queued; a step that ends at a checkpoint is
awaited before anything else is sent, so a checkpoint holds exactly the steps before it.

At the end of every epoch the held-out rows are scored with a forward pass, and the weights
are saved twice: ``save_state`` (weights + optimizer, to resume) and
``save_weights_for_sampler`` (the ``tinker://`` path a sampling client loads). Intermediate
checkpoints get a time-to-live (``checkpoint_ttl_s``) so they stop costing storage; the final
state and sampler weights are kept. Each checkpoint is appended to ``checkpoints.jsonl`` in the
output folder, so an interrupted run restarts from the last saved state with ``resume=True``
and replays the same batch order.

A training client that failed a request refuses every later one; when a step fails in a way
that may succeed again (a server-side failure, a dropped connection, a timeout), the run
continues on a new client created from the last saved state (or from scratch before the first
checkpoint), at most ``max_restarts`` times.
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
from distilleval.costs.training_plan import heldout_indices
from distilleval.errors import BackendError, ConfigurationError, DataError
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
    checkpoint_ttl_s: int | None = 7 * 24 * 3600
    max_restarts: int = 2


# The cookbook's Adam settings for supervised fine-tuning.
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.95
ADAM_EPS = 1e-8
RESTARTABLE_KINDS = frozenset({"request_failed", "unavailable", "timeout"})


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
    restarts: list[dict[str, Any]] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


def split_heldout(
    examples: Sequence[SupervisedExample], fraction: float, seed: int
) -> tuple[list[SupervisedExample], list[SupervisedExample]]:
    """Set aside ``floor(n * fraction)`` rows, chosen by a seeded shuffle, for held-out loss.

    Returns:
        (train, heldout), each in file order.
    """
    heldout_index = heldout_indices(len(examples), fraction, seed)
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

    The input is every token but the last (image runs become image chunks); the targets are
    the inputs shifted by one, weighted by the weight of the token being predicted. Positions
    inside an image have weight 0 (their target is a placeholder 0).
    """
    import numpy as np

    from distilleval.backends.tinker.rendering import IMAGE_TOKEN, to_model_input

    tinker = import_tinker()
    tokens = example.tokens
    targets = [0 if token == IMAGE_TOKEN else token for token in tokens[1:]]
    return tinker.types.Datum(
        model_input=to_model_input(tokens[:-1], example.images),
        loss_fn_inputs={
            "target_tokens": tinker.types.TensorData.from_numpy(np.asarray(targets, dtype=np.int64)),
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
    checkpoints = CheckpointLog(out_dir / CHECKPOINT_LOG)
    previous = _checkpoints_to_resume(checkpoints, out_dir / RUN_IDENTITY, identity, resume=resume)
    run = _LoraRun(tinker, service, config, train, heldout, checkpoints, previous,
                   connect_deadline_s=connect_deadline_s, step_timeout_s=step_timeout_s, log=log)
    run.start(out_dir, identity)
    run.train()
    if not run.result.sampler_path:
        raise ConfigurationError(f"{out_dir}: the run has no sampler checkpoint (nothing left to train?)")
    return run.result


def _checkpoints_to_resume(
    checkpoints: CheckpointLog, identity_path: Path, identity: dict[str, Any], *, resume: bool
) -> list[dict[str, Any]]:
    """The checkpoints a resumed run continues from ([] for a new run), after checking that the
    output folder holds this run (resume) or none at all (a new run)."""
    out_dir = identity_path.parent
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
        return previous
    if previous:
        raise ConfigurationError(f"{out_dir} already holds a training run; pass --resume to continue it or choose another --out")
    return []


class _LoraRun:
    """One training run: its client, counters and result, and the named steps that move it on.

    ``start`` opens the first client; ``train`` submits and finishes steps (pipelined, see the
    module docstring), saves a checkpoint where one is due and, after a restartable failure,
    continues from the last checkpoint (``_restart``). ``_continue_from`` is the one place the
    counters are set from a checkpoint record, at the start and at every restart.
    """

    def __init__(
        self, tinker: Any, service: Any, config: TrainingConfig, train: list[SupervisedExample],
        heldout: list[SupervisedExample], checkpoints: CheckpointLog, previous: list[dict[str, Any]], *,
        connect_deadline_s: float, step_timeout_s: float, log: Callable[[str], None],
    ) -> None:
        self.tinker = tinker
        self.service = service
        self.config = config
        self.train_rows = len(train)
        self.heldout_rows = len(heldout)
        self.checkpoints = checkpoints
        self.connect_deadline_s = connect_deadline_s
        self.step_timeout_s = step_timeout_s
        self.log = log
        self.batches_per_epoch = math.ceil(len(train) / config.batch_size)
        self.total_steps = config.epochs * self.batches_per_epoch
        self.last = previous[-1] if previous else None
        self.step = self._continue_from(self.last)
        self._train = train
        self._heldout = heldout
        self._batch_cache: dict[int, list[list[int]]] = {}
        self._adam = {"beta1": ADAM_BETA1, "beta2": ADAM_BETA2, "eps": ADAM_EPS}
        self.client: Any = None
        self.train_datums: list[Any] = []  # rendered by ``start``, once the client is open
        self.heldout_datums: list[Any] = []
        self.result = TrainingResult(
            sampler_path=self.last["sampler_path"] if self.last and self.last.get("sampler_path") else "",
            state_path=self.last["state_path"] if self.last else "",
            total_steps=self.total_steps,
            steps_run=0,
            resumed_from_step=self.step,
            train_rows=len(train),
            heldout_rows=len(heldout),
            trained_tokens=self.trained_tokens,
            heldout_tokens=self.heldout_tokens,
            checkpoints=list(previous),
            epochs=[
                EpochStats(epoch=r["epoch"], train_loss=r["train_loss"], heldout_loss=r["heldout_loss"],
                           steps=self.batches_per_epoch)
                for r in previous
                if r.get("end_of_epoch")
            ],
        )

    def _continue_from(self, record: dict[str, Any] | None) -> int:
        """Set the counters as ``record`` saved them (None: from scratch); the step to continue at."""
        self.trained_tokens = int(record["trained_tokens"]) if record else 0
        self.heldout_tokens = int(record["heldout_tokens"]) if record else 0
        self.tally = _Tally()
        return int(record["step"]) if record else 0

    def start(self, out_dir: Path, identity: dict[str, Any]) -> None:
        """Open the first client; a new run then writes its identity (only once the service has
        answered, so a failed start leaves no run behind)."""
        self.client = self._open_client(self.last)
        if self.last:
            self.log(f"resumed from step {self.step}/{self.total_steps} ({self.last['state_path']})")
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(out_dir / RUN_IDENTITY, identity)
        self.train_datums = [to_datum(example) for example in self._train]
        self.heldout_datums = [to_datum(example) for example in self._heldout]

    def train(self) -> None:
        """Run every step left, restarting after a restartable failure; fills ``result``."""
        while self.step < self.total_steps:
            try:
                self._run_steps()
            except BackendError as err:
                if err.kind not in RESTARTABLE_KINDS or len(self.result.restarts) >= self.config.max_restarts:
                    raise
                self._restart(err)
            self._note_run_id(self.result.state_path)
        for record in self.result.checkpoints:
            self._note_run_id(record.get("state_path") or "")
        self.result.trained_tokens = self.trained_tokens
        self.result.heldout_tokens = self.heldout_tokens

    def _run_steps(self) -> None:
        """Steps from ``self.step`` to the end: step k+1 is submitted before step k's results are
        awaited, and a step that ends at a checkpoint is finished and saved before the next."""
        pending: _Step | None = None
        while self.step < self.total_steps:
            current = self._submit(self.step)
            if pending is not None:
                self._finish(pending)
            pending = current
            if self._is_checkpoint(self.step + 1):
                self._finish(pending)
                pending = None
                self._save_checkpoint(self.step + 1)
            self.step += 1
        if pending is not None:
            self._finish(pending)

    def _restart(self, err: BackendError) -> None:
        """Continue on a new client from the last saved checkpoint (or from scratch)."""
        saved = self.checkpoints.records()
        restart_from = saved[-1] if saved else None
        self.step = self._continue_from(restart_from)
        self.result.epochs = [e for e in self.result.epochs if e.epoch * self.batches_per_epoch <= self.step]
        where = restart_from["state_path"] if restart_from else "scratch (no checkpoint yet)"
        self.log(f"{err}; continuing on a new training client from {where}")
        self.result.restarts.append({"at_step": self.step, "from": where, "error": str(err)})
        self.client = self._open_client(restart_from)

    def _note_run_id(self, path: str) -> None:
        run_id = _run_id(path)
        if run_id and run_id not in self.result.run_ids:
            self.result.run_ids.append(run_id)

    def _open_client(self, record: dict[str, Any] | None) -> Any:
        config, service = self.config, self.service
        if record:
            return call_with_deadline(
                lambda: resolved(
                    service.create_training_client_from_state_with_optimizer(record["state_path"]),
                    "create_training_client_from_state_with_optimizer",
                ),
                deadline_s=self.connect_deadline_s,
                doing=f"loading checkpoint {record['state_path']}",
            )
        return call_with_deadline(
            lambda: resolved(
                service.create_lora_training_client(base_model=config.base_model, rank=config.rank, seed=config.seed),
                "create_lora_training_client",
            ),
            deadline_s=self.connect_deadline_s,
            doing=f"creating a LoRA training client for {config.base_model}",
        )

    def _wait(self, future: Any, doing: str) -> Any:
        try:
            return future.result(timeout=self.step_timeout_s)
        except Exception as err:  # noqa: BLE001 - translated at this one choke point
            raise translate_error(err, doing) from None

    def _is_checkpoint(self, done: int) -> bool:
        every = self.config.save_every_steps
        return done % self.batches_per_epoch == 0 or bool(every and done % every == 0)

    def _submit(self, step: int) -> _Step:
        epoch, index = divmod(step, self.batches_per_epoch)
        if epoch not in self._batch_cache:
            self._batch_cache.clear()
            self._batch_cache[epoch] = epoch_batches(self.train_rows, self.config.batch_size, epoch, self.config.seed)
        batch = [self.train_datums[i] for i in self._batch_cache[epoch][index]]
        learning_rate = linear_decay_lr(self.config.learning_rate, step, self.total_steps)
        doing = f"training step {step + 1}/{self.total_steps}"
        try:
            fb_future = self.client.forward_backward(batch, "cross_entropy")
            optim_future = self.client.optim_step(self.tinker.types.AdamParams(learning_rate=learning_rate, **self._adam))
        except Exception as err:  # noqa: BLE001
            raise translate_error(err, doing) from None
        return _Step(step=step, batch=batch, forward_backward=fb_future, optim=optim_future, doing=doing)

    def _finish(self, pending: _Step) -> None:
        output = self._wait(pending.forward_backward, pending.doing)
        self._wait(pending.optim, pending.doing)
        loss, weight = weighted_nll(output, pending.batch)
        self.tally.loss += loss
        self.tally.weight += weight
        self.tally.steps += 1
        self.trained_tokens += sum(datum.model_input.length for datum in pending.batch)
        self.result.steps_run += 1

    def _save_checkpoint(self, done: int) -> None:
        epoch = (done - 1) // self.batches_per_epoch
        end_of_epoch = done % self.batches_per_epoch == 0
        ttl = None if done == self.total_steps else self.config.checkpoint_ttl_s
        heldout_loss = self._heldout_loss(epoch) if end_of_epoch and self.heldout_datums else None
        name = f"step-{done:06d}"
        state_path = self._wait(self.client.save_state(name, ttl_seconds=ttl), f"saving checkpoint {name}").path
        sampler_path = None
        if end_of_epoch:
            sampler_path = self._wait(
                self.client.save_weights_for_sampler(name, ttl_seconds=ttl), f"saving sampler weights {name}"
            ).path
            self.result.sampler_path = sampler_path
            stats = EpochStats(epoch=epoch + 1, train_loss=self.tally.mean(), heldout_loss=heldout_loss, steps=self.tally.steps)
            self.result.epochs.append(stats)
            self.log(
                f"epoch {epoch + 1}/{self.config.epochs}: train loss {_fmt(stats.train_loss)}, "
                f"held-out loss {_fmt(heldout_loss)} ({self.heldout_rows} rows), {sampler_path}"
            )
            self.tally = _Tally()
        self.result.state_path = state_path
        record = {
            "step": done,
            "epoch": epoch + 1,
            "end_of_epoch": end_of_epoch,
            "state_path": state_path,
            "sampler_path": sampler_path or self.result.sampler_path or None,
            "train_loss": self.result.epochs[-1].train_loss if end_of_epoch else None,
            "heldout_loss": heldout_loss,
            "trained_tokens": self.trained_tokens,
            "heldout_tokens": self.heldout_tokens,
            "ttl_seconds": ttl,
        }
        self.checkpoints.append(record)
        self.result.checkpoints.append(record)

    def _heldout_loss(self, epoch: int) -> float | None:
        """Score the held-out rows after ``epoch`` (0-based); counts their tokens."""
        scored = self._wait(self.client.forward(self.heldout_datums, "cross_entropy"),
                            f"scoring the held-out rows after epoch {epoch + 1}")
        h_loss, h_weight = weighted_nll(scored, self.heldout_datums)
        self.heldout_tokens += sum(datum.model_input.length for datum in self.heldout_datums)
        return h_loss / h_weight if h_weight > 0 else None


def list_saved_checkpoints(make_rest: Callable[[], Any], run_ids: Sequence[str], *, call: Callable[..., Any]) -> list[dict[str, Any]]:
    """Every checkpoint the service holds for ``run_ids``, with its size and expiry.

    Args:
        make_rest: builds the REST client (``connection.rest_client``).
        run_ids: training run ids (``TrainingResult.run_ids``).
        call: runs a blocking call under a deadline, given the call and what it is doing.
    """
    listed: list[dict[str, Any]] = []
    rest = call(make_rest, "opening the REST client")
    for run_id in run_ids:
        response = call(lambda run_id=run_id: rest.list_checkpoints(run_id).result(), f"listing the checkpoints of {run_id}")
        for checkpoint in response.checkpoints:
            listed.append({
                "path": checkpoint.tinker_path,
                "type": checkpoint.checkpoint_type,
                "size_bytes": checkpoint.size_bytes,
                "expires_at": checkpoint.expires_at.isoformat() if checkpoint.expires_at else None,
            })
    return listed


@dataclass
class _Step:
    step: int
    batch: list[Any]
    forward_backward: Any
    optim: Any
    doing: str


def _run_id(path: str) -> str | None:
    """The training run id of a ``tinker://<run id>/...`` path."""
    if not path.startswith("tinker://"):
        return None
    return path.removeprefix("tinker://").split("/", 1)[0] or None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
