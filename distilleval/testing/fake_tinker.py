"""A small test double of the Tinker service, built from the SDK's real types.

It stands exactly at the SDK seam: ``FakeServiceClient`` has the ``tinker.ServiceClient``
methods distilleval calls, with the same signatures, and returns the same kinds of objects
(``APIFuture`` wrapping ``tinker.types`` responses, real ``tinker`` exceptions). Nothing
here is used outside tests; it needs the ``tinker`` package.

Its "model" is a toy whose per-token log-probability rises as optimizer steps apply
learning rate, so a training loop's losses move the way a real run's do, and it checks the
inputs the service would reject (shapes, dtypes, loss name, unknown paths).

Where the real service's behaviour matters to distilleval it is modelled, not assumed:

- it serves only the models of its catalogue (``models``; default: distilleval's offline
  copy), lists them through ``get_server_capabilities`` and refuses any other;
- run ids and paths have the real shape (``tinker://<uuid>:train:<n>/weights/<name>``);
- failures raise the SDK's own exception classes, and a training client that failed a
  request refuses every later one, as the service does;
- ``sdk_version`` below 0.38 gives the older SDK's return types (``create_*`` returning the
  client itself, sampling futures with no ``result_async``);
- a billing (402) or capacity pause blocks the call and logs what the SDK logs, on the
  SDK's own loggers;
- training futures complete after they are returned, in order; sampling futures too, from a queue of ``sample_slots``
  workers (so requests wait under load), and a blocking ``.result()`` on a thread that runs an
  event loop is refused (it would stall the loop);
- with ``answer_from_training``, sampler weights saved after training answer with the completion
  of the trained row whose prompt is nearest to the sampled one (a nearest-neighbour "model":
  a double's behaviour, so a loop's retraining can change its answers; never a real model's);
- a prompt plus ``max_tokens`` over the model's context length is a 400, and
  ``SampleResponse.prompt_cache_hit_tokens`` counts the prompt prefix shared with a recent prompt.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import numpy as np
import tinker
from tinker import types
from tinker.lib.public_interfaces.api_future import AwaitableConcurrentFuture

from distilleval.backends.tinker.catalogue import offline_catalogue, plain_name

VOCAB_SIZE = 151_936
# How fast the toy model learns: log-prob shrinks by 1 / (1 + LEARNING_GAIN * sum of lr).
LEARNING_GAIN = 5_000.0


class _RecordedFuture(AwaitableConcurrentFuture):
    """The SDK's future, noting in the service's log when a caller waits on it."""

    def __init__(self, future: Future, on_wait: Callable[[], None] | None = None) -> None:
        super().__init__(future)
        self._on_wait = on_wait

    def result(self, timeout: float | None = None) -> Any:
        _refuse_on_event_loop()
        if self._on_wait is not None:
            self._on_wait()
        return super().result(timeout)


def _refuse_on_event_loop() -> None:
    """A blocking ``.result()`` on a thread running an event loop stalls every call in flight
    (on the SDK's own loop thread it deadlocks); the double refuses it where the service would hang."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError("APIFuture.result() called on an event loop thread: it would block the loop; use result_async()")


class _LaterFuture(AwaitableConcurrentFuture):
    """A future the service completes after it was returned (as the real one does), refusing a blocking wait on a loop."""

    def result(self, timeout: float | None = None) -> Any:
        _refuse_on_event_loop()
        return super().result(timeout)


def _done(
    value: Any = None, error: BaseException | None = None, on_wait: Callable[[], None] | None = None
) -> AwaitableConcurrentFuture:
    future: Future = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return _RecordedFuture(future, on_wait)


def _request_failed(message: str) -> tinker.RequestFailedError:
    return tinker.RequestFailedError(message, request_id="req-fake", category=types.RequestErrorCategory.Server)


def _check_image(chunk: types.ImageChunk) -> None:
    """Refuse an image whose token count is not the processor's, as the service does."""
    import io

    from PIL import Image

    from distilleval.backends.tinker.images import qwen_vl_image_tokens

    with Image.open(io.BytesIO(chunk.data)) as image:
        width, height = image.size
    expected = qwen_vl_image_tokens(width, height)
    if chunk.expected_tokens != expected:
        raise _status_error(
            tinker.BadRequestError, 400, f"Expected {chunk.expected_tokens} tokens, got {expected} from image"
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


def _status_error(cls: type, status: int, message: str) -> Exception:
    request = httpx.Request("POST", "https://tinker.test/api/v1")
    return cls(message, response=httpx.Response(status, request=request), body=None)


@dataclass
class _State:
    base_model: str
    rank: int
    progress: float = 0.0  # sum of learning rates applied by optimizer steps
    optimizer_steps: int = 0
    # (prompt token ids, completion token ids) of every row an optimizer step applied (``answer_from_training``)
    trained: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()


@dataclass
class FakeServiceClient:
    """Stands in for ``tinker.ServiceClient``.

    Args:
        responder: for sampling, maps prompt token ids to the tokens the model "says".
        models: the base models this service serves (default: distilleval's offline copy).
        sdk_version: the SDK version whose return types to give (below 0.38: the old ones).
        block_s: make client creation block this long (an unreachable service).
        pause: make client creation block this long while paused for ``"billing"`` (402) or
            ``"capacity"``, logging what the SDK logs then.
        sample_delay_s: answer each sampling request after this long. Even at 0 a sampling
            future completes after it is returned, on the service's side, never at once.
        sample_slots: sampling requests the service works on at once; more wait in its queue
            (each takes ``sample_delay_s``), as under load.
        context_length: the longest prompt plus ``max_tokens`` a model takes (a ``:peft:N``
            suffix says N); reported as ``SupportedModel.max_context_length``; longer is a 400.
        fail_at_step: make the N-th ``forward_backward`` (1-based, over all clients) fail.
        failure: how it fails: ``"connection"`` (``APIConnectionError``) or ``"request"``
            (``RequestFailedError``, after which that training client refuses every request).
        checkpoint_bytes: the size the service reports for every saved checkpoint.
        received: filled in, not passed: ``(training run id, "forward_backward" or "forward", input
            token ids)`` of every datum the training clients accepted, so a test can check which rows were trained on.
        sample_logprob: the log-probability given to every sampled token (a number, or a function
            of the prompt token ids), carried as the SDK's ``SampledSequence.logprobs``; None: none.
        answer_from_training: sampler weights whose run applied optimizer steps answer with the
            trained completion (the tokens of weight > 0) of the row whose prompt shares the most
            token bigrams with the sampled prompt (Jaccard; ties: the row trained first); a base
            model, or weights with no trained row, answers with ``responder``.
    """

    responder: Callable[[list[int]], list[int]] | None = None
    answer_from_training: bool = False
    sample_logprob: float | Callable[[list[int]], float] | None = None
    models: tuple[str, ...] = field(default_factory=lambda: tuple(offline_catalogue().models))
    sdk_version: str = "0.38.0"
    block_s: float = 0.0
    pause: tuple[str, float] | None = None
    sample_delay_s: float = 0.0
    sample_slots: int = 8
    context_length: int = 32_768
    fail_at_step: int | None = None
    failure: str = "connection"
    checkpoint_bytes: int = 170_000_000
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    received: list[tuple[str, str, tuple[int, ...]]] = field(default_factory=list)
    saved: dict[str, _State] = field(default_factory=dict)
    checkpoint_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    _session: str = field(default_factory=lambda: str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-tinker-session")))
    _runs: itertools.count = field(default_factory=lambda: itertools.count(0))
    _fb_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sampler_pool: Any = None
    _trainer_pool: Any = None
    _seen_prompts: list = field(default_factory=list)

    def context_length_of(self, model: str) -> int:
        """The context length the double serves ``model`` with (a ``:peft:N`` suffix names it)."""
        tail = model.rsplit(":", 1)[-1] if ":" in model else ""
        return int(tail) if tail.isdigit() else self.context_length

    def _training_queue(self) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._trainer_pool is None:
                self._trainer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-tinker-trainer")
            return self._trainer_pool

    def _sample_queue(self) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._sampler_pool is None:
                self._sampler_pool = ThreadPoolExecutor(max_workers=self.sample_slots, thread_name_prefix="fake-tinker-sampler")
            return self._sampler_pool

    def _prefix_cache_hits(self, tokens: list[int]) -> int:
        """Prompt tokens a prefix cache would serve: the longest prefix shared with a recent prompt."""
        with self._lock:
            best = 0
            for seen in self._seen_prompts:
                shared = 0
                for a, b in zip(seen, tokens):
                    if a != b:
                        break
                    shared += 1
                best = max(best, shared)
            self._seen_prompts = (self._seen_prompts + [tokens])[-32:]
        return best

    @property
    def legacy(self) -> bool:
        """Whether this double gives the return types of an SDK older than 0.38."""
        return _version_tuple(self.sdk_version) < (0, 38)

    def _serves(self, base_model: str) -> bool:
        return base_model in self.models or plain_name(base_model) in self.models

    def _unknown_model(self, base_model: str) -> Exception:
        return _status_error(
            tinker.BadRequestError, 400, f"Base model {base_model} is not supported; supported: {', '.join(self.models)}"
        )

    def _wait_at_creation(self, what: str) -> None:
        if self.block_s:
            time.sleep(self.block_s)
        if self.pause is not None:
            reason, seconds = self.pause
            if reason == "billing":
                logging.getLogger("tinker.lib.internal_client_holder").warning(
                    "The job is paused due to billing status. Error: payment required"
                )
            else:
                logging.getLogger("tinker.lib.queue_state_logger").warning(
                    f"Model creation for {what} is paused. Reason: Tinker backend is running short on capacity, please wait."
                )
            time.sleep(seconds)

    def _answer(self, value: Any = None, error: BaseException | None = None) -> Any:
        # Before 0.38, create_* returned the client itself (and raised at once).
        if self.legacy:
            if error is not None:
                raise error
            return value
        return _done(value, error)

    def create_rest_client(self) -> "FakeRestClient":
        """A REST client for checkpoint listings."""
        return FakeRestClient(self)

    def _record(self, method: str, /, **kwargs: Any) -> None:
        with self._lock:
            self.calls.append((method, kwargs))

    def register_checkpoint(self, path: str, base_model: str, rank: int = 32) -> None:
        """Pretend a checkpoint saved earlier (by another session) exists at ``path``."""
        self.saved[path] = _State(base_model=base_model, rank=rank)

    def calls_named(self, name: str) -> list[dict[str, Any]]:
        """The keyword arguments of every recorded call to ``name``."""
        return [kwargs for called, kwargs in self.calls if called == name]

    def _new_training_client(self, state: _State) -> "FakeTrainingClient":
        return FakeTrainingClient(self, state, run_id=f"{self._session}:train:{next(self._runs)}")

    def create_lora_training_client(
        self,
        base_model: str,
        rank: int = 32,
        seed: int | None = None,
        train_mlp: bool = True,
        train_attn: bool = True,
        train_unembed: bool = True,
        user_metadata: dict[str, str] | None = None,
        optimizer: Any = None,
    ) -> AwaitableConcurrentFuture:
        """Start a fresh LoRA run, as ``tinker.ServiceClient`` does."""
        self._record("create_lora_training_client", base_model=base_model, rank=rank, seed=seed)
        self._wait_at_creation(base_model)
        if not self._serves(base_model):
            return self._answer(error=self._unknown_model(base_model))
        return self._answer(self._new_training_client(_State(base_model=base_model, rank=rank)))

    def create_training_client_from_state_with_optimizer(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: dict[str, str] | None = None,
        weights_access_token: str | None = None,
    ) -> AwaitableConcurrentFuture:
        """Resume a run from saved training state; a ``NotFoundError`` future for an unknown path."""
        self._record("create_training_client_from_state_with_optimizer", path=path)
        self._wait_at_creation(path)
        state = self.saved.get(path)
        if state is None or "/weights/" not in path:
            return self._answer(error=_status_error(tinker.NotFoundError, 404, f"no training checkpoint at {path}"))
        return self._answer(self._new_training_client(_State(**vars(state))))

    def create_sampling_client(
        self,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: Any = None,
        record_stability_info: bool = False,
    ) -> AwaitableConcurrentFuture:
        """A sampling client for saved sampler weights or a base model."""
        self._record("create_sampling_client", model_path=model_path, base_model=base_model)
        self._wait_at_creation(model_path or str(base_model))
        if model_path is not None:
            state = self.saved.get(model_path)
            if state is None or "/sampler_weights/" not in model_path:
                return self._answer(error=_status_error(tinker.NotFoundError, 404, f"no sampler weights at {model_path}"))
            base_model = state.base_model
        elif base_model is None:
            raise ValueError("Either model_path or base_model must be provided")
        elif not self._serves(base_model):
            return self._answer(error=self._unknown_model(base_model))
        trained = self.saved[model_path].trained if model_path is not None else ()
        return self._answer(FakeSamplingClient(self, base_model=base_model, trained=trained))


def _later(
    queue: Any, value: Any = None, error: BaseException | None = None, on_wait: Callable[[], None] | None = None
) -> AwaitableConcurrentFuture:
    """A future the service completes after it is returned, in the order of ``queue`` (a one-worker executor)."""
    future: Future = Future()

    def deliver() -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    queue.submit(deliver)
    return _RecordedFuture(future, on_wait)


class FakeTrainingClient:
    """Stands in for ``tinker.TrainingClient`` (cross-entropy, Adam, checkpoints)."""

    def __init__(self, service: FakeServiceClient, state: _State, *, run_id: str) -> None:
        self.service = service
        self.state = state
        self.run_id = run_id
        self._pending_gradient = False
        self._pending_rows: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        self.failed = False

    def _future(self, method: str, value: Any = None, error: BaseException | None = None) -> AwaitableConcurrentFuture:
        if self.failed and error is None:
            error = _request_failed(f"{method}: the training client {self.run_id} failed earlier and accepts no more requests")
        number = len(self.service.calls) - 1  # the call that made this future
        if self.service.legacy:
            return _done(value, error, on_wait=lambda: self.service._record("wait", method=method, call=number))
        # Completed later, in order, by the service (as the real one works through a client's requests).
        return _later(self.service._training_queue(), value, error,
                      on_wait=lambda: self.service._record("wait", method=method, call=number))

    def _check(self, data: Sequence[types.Datum], loss_fn: str) -> None:
        if loss_fn != "cross_entropy":
            raise _status_error(tinker.BadRequestError, 400, f"distilleval only uses cross_entropy, got {loss_fn}")
        if not data:
            raise _status_error(tinker.BadRequestError, 400, "empty batch")
        for datum in data:
            if not isinstance(datum, types.Datum):
                raise TypeError(f"expected tinker.types.Datum, got {type(datum).__name__}")
            for chunk in datum.model_input.chunks:
                if isinstance(chunk, types.ImageChunk):
                    _check_image(chunk)
            targets = datum.loss_fn_inputs.get("target_tokens")
            weights = datum.loss_fn_inputs.get("weights")
            if targets is None or weights is None:
                raise _status_error(tinker.BadRequestError, 400, "cross_entropy needs target_tokens and weights")
            if targets.dtype != "int64" or weights.dtype != "float32":
                raise _status_error(tinker.BadRequestError, 400, "target_tokens must be int64 and weights float32")
            length = datum.model_input.length
            if len(targets.data) != length or len(weights.data) != length:
                raise _status_error(tinker.BadRequestError, 400, "target_tokens and weights must match the input length")

    def _outputs(self, data: Sequence[types.Datum]) -> types.ForwardBackwardOutput:
        per_token = -math.log(VOCAB_SIZE) / (1.0 + LEARNING_GAIN * self.state.progress)
        outputs = []
        loss_sum = 0.0
        for datum in data:
            weights = datum.loss_fn_inputs["weights"].to_numpy()
            logprobs = np.full(weights.shape, per_token, dtype=np.float32)
            loss_sum += float(-(logprobs * weights).sum())
            outputs.append({"logprobs": types.TensorData.from_numpy(logprobs)})
        return types.ForwardBackwardOutput(
            loss_fn_output_type="ArrayRecord", loss_fn_outputs=outputs, metrics={"loss:sum": loss_sum}
        )

    def forward(self, data: list[types.Datum], loss_fn: str, loss_fn_config: Any = None) -> AwaitableConcurrentFuture:
        """Logprobs and summed loss of ``data`` with no gradient (the held-out loss)."""
        self.service._record("forward", n=len(data))
        self._check(data, loss_fn)
        self._note_received("forward", data)
        return self._future("forward", self._outputs(data))

    def _note_received(self, method: str, data: Sequence[types.Datum]) -> None:
        with self.service._lock:
            self.service.received += [
                (self.run_id, method, tuple(t for chunk in d.model_input.chunks
                                            if isinstance(chunk, types.EncodedTextChunk) for t in chunk.tokens))
                for d in data
            ]

    def forward_backward(
        self, data: list[types.Datum], loss_fn: str, loss_fn_config: Any = None
    ) -> AwaitableConcurrentFuture:
        """Losses of ``data`` and a pending gradient for the next ``optim_step``."""
        service = self.service
        with service._lock:
            service._fb_calls += 1
            number = service._fb_calls
        service._record("forward_backward", n=len(data), tokens=sum(d.model_input.length for d in data))
        if service.fail_at_step is not None and number == service.fail_at_step:
            if service.failure == "request":
                self.failed = True
                return self._future("forward_backward", error=_request_failed("forward_backward: worker lost"))
            return self._future(
                "forward_backward", error=tinker.APIConnectionError(request=httpx.Request("POST", "https://tinker.test"))
            )
        self._check(data, loss_fn)
        if self.failed:
            return self._future("forward_backward")
        self._note_received("forward_backward", data)
        self._pending_gradient = True
        self._pending_rows = [_prompt_and_completion(datum) for datum in data]
        return self._future("forward_backward", self._outputs(data))

    def optim_step(self, optim_params: Any = None, *, adam_params: Any = None) -> AwaitableConcurrentFuture:
        """Take an optimizer step: with a pending gradient the fake weights move by the learning rate."""
        params = optim_params if optim_params is not None else adam_params
        if not isinstance(params, types.AdamParams):
            raise TypeError("optim_step expects tinker.types.AdamParams")
        self.service._record("optim_step", learning_rate=params.learning_rate, params=params)
        if self.failed:
            return self._future("optim_step")
        if self._pending_gradient:  # with no gradient, Adam has nothing to apply
            self.state.progress += params.learning_rate
            self.state.optimizer_steps += 1
            known = set(self.state.trained)
            self.state.trained += tuple(row for row in self._pending_rows if row not in known)
            self._pending_gradient = False
        return self._future("optim_step", types.OptimStepResponse(metrics={}))

    def _save(self, kind: str, name: str, ttl_seconds: int | None) -> str:
        if ttl_seconds is not None and not 3600 <= ttl_seconds <= 10 * 365 * 24 * 3600:
            raise _status_error(tinker.BadRequestError, 400, "ttl_seconds must be between 3600 and 10 years")
        path = f"tinker://{self.run_id}/{kind}/{name}"
        if path in self.service.saved:
            raise _status_error(tinker.ConflictError, 409, f"checkpoint {path} already exists")
        self.service.saved[path] = _State(**vars(self.state))
        self.service.checkpoint_info[path] = {"run_id": self.run_id, "kind": kind, "name": name, "ttl_seconds": ttl_seconds}
        return path

    def save_state(self, name: str, ttl_seconds: int | None = None, overwrite: bool = False, user_metadata: Any = None):
        """Save weights and optimizer state under ``name``; a future with the path."""
        self.service._record("save_state", name=name, ttl_seconds=ttl_seconds)
        try:
            return self._future("save_state", types.SaveWeightsResponse(path=self._save("weights", name, ttl_seconds)))
        except Exception as err:  # noqa: BLE001 - the real client reports errors through the future
            return self._future("save_state", error=err)

    def save_weights_for_sampler(self, name: str, ttl_seconds: int | None = None, user_metadata: Any = None):
        """Save sampler weights under ``name``; a future with the path."""
        self.service._record("save_weights_for_sampler", name=name, ttl_seconds=ttl_seconds)
        try:
            path = self._save("sampler_weights", name, ttl_seconds)
            return self._future("save_weights_for_sampler", types.SaveWeightsForSamplerResponse(path=path))
        except Exception as err:  # noqa: BLE001
            return self._future("save_weights_for_sampler", error=err)


def _prompt_and_completion(datum: types.Datum) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A cross-entropy datum's prompt (input tokens before the first weighted target) and completion
    (the weighted target tokens)."""
    inputs = [t for chunk in datum.model_input.chunks if isinstance(chunk, types.EncodedTextChunk) for t in chunk.tokens]
    targets = datum.loss_fn_inputs["target_tokens"].to_numpy().tolist()
    weights = datum.loss_fn_inputs["weights"].to_numpy().tolist()
    first = next((i for i, w in enumerate(weights) if w > 0), len(weights))
    return tuple(inputs[: first + 1]), tuple(int(t) for t, w in zip(targets, weights) if w > 0)


def _bigrams(tokens: Sequence[int]) -> set[tuple[int, int]]:
    return set(zip(tokens, tokens[1:]))


def nearest_trained_completion(trained: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], prompt: Sequence[int]) -> list[int]:
    """The completion of the trained row whose prompt shares the most token bigrams with ``prompt``
    (Jaccard similarity; ties go to the row trained first)."""
    wanted = _bigrams(prompt)
    best, best_score = trained[0], -1.0
    for row in trained:
        have = _bigrams(row[0])
        union = len(wanted | have)
        score = len(wanted & have) / union if union else 0.0
        if score > best_score:
            best, best_score = row, score
    return list(best[1])


class FakeRestClient:
    """Stands in for ``tinker.RestClient``: checkpoint listings with sizes and expiry."""

    def __init__(self, service: FakeServiceClient) -> None:
        self.service = service

    def get_server_capabilities(self) -> AwaitableConcurrentFuture:
        """A future of the models this service serves, as the real call reports them."""
        self.service._record("get_server_capabilities")
        if self.service.block_s:
            time.sleep(self.service.block_s)
        models = [
            types.SupportedModel(
                model_name=name, trainable=True, sampleable=True, max_context_length=self.service.context_length_of(name)
            )
            for name in self.service.models
        ]
        return _done(types.GetServerCapabilitiesResponse(supported_models=models))

    def list_checkpoints(self, training_run_id: str) -> AwaitableConcurrentFuture:
        """Every checkpoint of ``training_run_id``, as ``types.CheckpointsListResponse``."""
        import datetime as dt

        self.service._record("list_checkpoints", training_run_id=training_run_id)
        now = dt.datetime.now(dt.timezone.utc)
        checkpoints = []
        for path, info in self.service.checkpoint_info.items():
            if info["run_id"] != training_run_id:
                continue
            ttl = info["ttl_seconds"]
            checkpoints.append(
                types.Checkpoint(
                    checkpoint_id=f"{info['kind']}/{info['name']}",
                    checkpoint_type="training" if info["kind"] == "weights" else "sampler",
                    time=now,
                    tinker_path=path,
                    size_bytes=self.service.checkpoint_bytes,
                    expires_at=None if ttl is None else now + dt.timedelta(seconds=ttl),
                )
            )
        return _done(types.CheckpointsListResponse(checkpoints=checkpoints, cursor=None))


class FakeSamplingClient:
    """Stands in for ``tinker.SamplingClient``; answers with the service's ``responder``."""

    def __init__(self, service: FakeServiceClient, *, base_model: str, trained: tuple = ()) -> None:
        self.service = service
        self.base_model = base_model
        self.trained = trained
        self._sequence_ids = itertools.count(1)

    def get_base_model(self) -> str:
        """The base model the sampler's weights belong to."""
        return self.base_model

    def sample(
        self,
        prompt: types.ModelInput,
        num_samples: int,
        sampling_params: types.SamplingParams,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        topk_sample_logprobs: int = 0,
        **_: Any,
    ) -> AwaitableConcurrentFuture | Future[Any]:
        """Sample completions of ``prompt``, as ``tinker.SamplingClient.sample`` does (a plain
        ``concurrent.futures.Future`` in ``legacy`` mode)."""
        images = [chunk for chunk in prompt.chunks if isinstance(chunk, types.ImageChunk)]
        for image in images:
            _check_image(image)
        self.service._record("sample", prompt_tokens=prompt.length, params=sampling_params, images=len(images))
        from_training = self.service.answer_from_training and bool(self.trained)
        responder = self.service.responder
        if responder is None and not from_training:
            raise RuntimeError("FakeServiceClient has no responder for sampling")
        stop = sampling_params.stop
        if stop is not None and not all(isinstance(s, int) for s in stop):
            raise NotImplementedError("the fake sampler handles stop token ids only")
        sequences = []
        for _sample in range(num_samples):
            text_ids = [t for chunk in prompt.chunks if isinstance(chunk, types.EncodedTextChunk) for t in chunk.tokens]
            if from_training or responder is None:
                tokens = nearest_trained_completion(self.trained, text_ids)
            else:
                tokens = list(responder(text_ids))
            reason: Literal["length", "stop"] = "stop"
            for position, token in enumerate(tokens):
                if stop and token in stop:
                    tokens = tokens[: position + 1]  # the stop token is returned, as Tinker does
                    break
            if sampling_params.max_tokens is not None and len(tokens) > sampling_params.max_tokens:
                tokens, reason = tokens[: sampling_params.max_tokens], "length"
            logprob = self.service.sample_logprob
            if callable(logprob):
                logprob = logprob(text_ids)
            sequences.append(
                types.SampledSequence(
                    stop_reason=reason,
                    sequence_id=f"seq-{next(self._sequence_ids)}",
                    tokens_np=np.asarray(tokens, dtype=np.int32),
                    logprobs_np=None if logprob is None else np.full(len(tokens), logprob, dtype=np.float64),
                )
            )
        limit = self.service.context_length_of(self.base_model)
        too_long = prompt.length + (sampling_params.max_tokens or 0) > limit
        response = types.SampleResponse(
            sequences=sequences, prompt_cache_hit_tokens=0 if too_long else self.service._prefix_cache_hits(text_ids)
        )
        error = _status_error(
            tinker.BadRequestError, 400,
            f"prompt of {prompt.length} tokens plus max_tokens {sampling_params.max_tokens} exceeds the model's "
            f"context length of {limit}",
        ) if too_long else None
        if self.service.legacy:  # before 0.38, sample() gave a plain concurrent future
            legacy: Future = Future()
            legacy.set_exception(error) if error else legacy.set_result(response)
            return legacy
        future: Future = Future()

        def deliver() -> None:  # on the service's side, in its queue of sample_slots workers
            if self.service.sample_delay_s:
                time.sleep(self.service.sample_delay_s)
            if future.cancelled():  # a caller's timeout cancels the future
                return
            future.set_exception(error) if error else future.set_result(response)

        self.service._sample_queue().submit(deliver)
        return _LaterFuture(future)
