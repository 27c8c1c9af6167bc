"""A small test double of the Tinker service, built from the SDK's real types.

It stands exactly at the SDK seam: ``FakeServiceClient`` has the ``tinker.ServiceClient``
methods distilleval calls, with the same signatures, and returns the same kinds of objects
(``APIFuture`` wrapping ``tinker.types`` responses, real ``tinker`` exceptions). Nothing
here is used outside tests; it needs the ``tinker`` package.

Its "model" is a toy whose per-token log-probability rises as optimizer steps apply
learning rate, so a training loop's losses move the way a real run's do, and it checks the
inputs the service would reject (shapes, dtypes, loss name, unknown paths).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import tinker
from tinker import types
from tinker.lib.public_interfaces.api_future import AwaitableConcurrentFuture

from distilleval.backends.tinker.rendering import BASE_MODEL_TEMPLATES

VOCAB_SIZE = 151_936
# How fast the toy model learns: log-prob shrinks by 1 / (1 + LEARNING_GAIN * sum of lr).
LEARNING_GAIN = 5_000.0


def _done(value: Any = None, error: BaseException | None = None) -> AwaitableConcurrentFuture:
    future: Future = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return AwaitableConcurrentFuture(future)


def _status_error(cls: type, status: int, message: str) -> Exception:
    request = httpx.Request("POST", "https://tinker.test/api/v1")
    return cls(message, response=httpx.Response(status, request=request), body=None)


@dataclass
class _State:
    base_model: str
    rank: int
    progress: float = 0.0  # sum of learning rates applied by optimizer steps
    optimizer_steps: int = 0


@dataclass
class FakeServiceClient:
    """Stands in for ``tinker.ServiceClient``.

    Args:
        responder: for sampling, maps prompt token ids to the tokens the model "says".
        block_s: make client creation block this long (an unreachable service).
        sample_delay_s: answer each sampling request after this long.
        fail_at_step: make the N-th ``forward_backward`` (1-based, over all clients) fail
            with a connection error, as an interrupted run would.
    """

    responder: Callable[[list[int]], list[int]] | None = None
    block_s: float = 0.0
    sample_delay_s: float = 0.0
    fail_at_step: int | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    saved: dict[str, _State] = field(default_factory=dict)
    _runs: itertools.count = field(default_factory=lambda: itertools.count(1))
    _fb_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        return FakeTrainingClient(self, state, run_id=f"run-{next(self._runs):04d}")

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
        if self.block_s:
            time.sleep(self.block_s)
        if base_model not in BASE_MODEL_TEMPLATES:
            return _done(error=_status_error(tinker.BadRequestError, 400, f"unknown base model {base_model}"))
        return _done(self._new_training_client(_State(base_model=base_model, rank=rank)))

    def create_training_client_from_state_with_optimizer(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: dict[str, str] | None = None,
        weights_access_token: str | None = None,
    ) -> AwaitableConcurrentFuture:
        """Resume a run from saved training state; a ``NotFoundError`` future for an unknown path."""
        self._record("create_training_client_from_state_with_optimizer", path=path)
        if self.block_s:
            time.sleep(self.block_s)
        state = self.saved.get(path)
        if state is None or "/weights/" not in path:
            return _done(error=_status_error(tinker.NotFoundError, 404, f"no training checkpoint at {path}"))
        return _done(self._new_training_client(_State(**vars(state))))

    def create_sampling_client(
        self,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: Any = None,
        record_stability_info: bool = False,
    ) -> AwaitableConcurrentFuture:
        """A sampling client for saved sampler weights or a base model."""
        self._record("create_sampling_client", model_path=model_path, base_model=base_model)
        if self.block_s:
            time.sleep(self.block_s)
        if model_path is None and base_model is None:
            raise ValueError("Either model_path or base_model must be provided")
        if model_path is not None:
            state = self.saved.get(model_path)
            if state is None or "/sampler_weights/" not in model_path:
                return _done(error=_status_error(tinker.NotFoundError, 404, f"no sampler weights at {model_path}"))
            base_model = state.base_model
        elif base_model not in BASE_MODEL_TEMPLATES:
            return _done(error=_status_error(tinker.BadRequestError, 400, f"unknown base model {base_model}"))
        return _done(FakeSamplingClient(self, base_model=base_model))


class FakeTrainingClient:
    """Stands in for ``tinker.TrainingClient`` (cross-entropy, Adam, checkpoints)."""

    def __init__(self, service: FakeServiceClient, state: _State, *, run_id: str) -> None:
        self.service = service
        self.state = state
        self.run_id = run_id
        self._pending_gradient = False

    def _check(self, data: Sequence[types.Datum], loss_fn: str) -> None:
        if loss_fn != "cross_entropy":
            raise _status_error(tinker.BadRequestError, 400, f"distilleval only uses cross_entropy, got {loss_fn}")
        if not data:
            raise _status_error(tinker.BadRequestError, 400, "empty batch")
        for datum in data:
            if not isinstance(datum, types.Datum):
                raise TypeError(f"expected tinker.types.Datum, got {type(datum).__name__}")
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
        return _done(self._outputs(data))

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
            return _done(error=tinker.APIConnectionError(request=httpx.Request("POST", "https://tinker.test")))
        self._check(data, loss_fn)
        self._pending_gradient = True
        return _done(self._outputs(data))

    def optim_step(self, optim_params: Any = None, *, adam_params: Any = None) -> AwaitableConcurrentFuture:
        """Take an optimizer step: with a pending gradient the fake weights move by the learning rate."""
        params = optim_params if optim_params is not None else adam_params
        if not isinstance(params, types.AdamParams):
            raise TypeError("optim_step expects tinker.types.AdamParams")
        self.service._record("optim_step", learning_rate=params.learning_rate)
        if self._pending_gradient:  # with no gradient, Adam has nothing to apply
            self.state.progress += params.learning_rate
            self.state.optimizer_steps += 1
            self._pending_gradient = False
        return _done(types.OptimStepResponse(metrics={}))

    def _save(self, kind: str, name: str) -> str:
        path = f"tinker://{self.run_id}/{kind}/{name}"
        if path in self.service.saved:
            raise _status_error(tinker.ConflictError, 409, f"checkpoint {path} already exists")
        self.service.saved[path] = _State(**vars(self.state))
        return path

    def save_state(self, name: str, ttl_seconds: int | None = None, overwrite: bool = False, user_metadata: Any = None):
        """Save weights and optimizer state under ``name``; a future with the path."""
        self.service._record("save_state", name=name)
        try:
            return _done(types.SaveWeightsResponse(path=self._save("weights", name)))
        except Exception as err:  # noqa: BLE001 - the real client reports errors through the future
            return _done(error=err)

    def save_weights_for_sampler(self, name: str, ttl_seconds: int | None = None, user_metadata: Any = None):
        """Save sampler weights under ``name``; a future with the path."""
        self.service._record("save_weights_for_sampler", name=name)
        try:
            return _done(types.SaveWeightsForSamplerResponse(path=self._save("sampler_weights", name)))
        except Exception as err:  # noqa: BLE001
            return _done(error=err)


class FakeSamplingClient:
    """Stands in for ``tinker.SamplingClient``; answers with the service's ``responder``."""

    def __init__(self, service: FakeServiceClient, *, base_model: str) -> None:
        self.service = service
        self.base_model = base_model
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
    ) -> AwaitableConcurrentFuture:
        """Sample completions of ``prompt``, as ``tinker.SamplingClient.sample`` does."""
        self.service._record("sample", prompt_tokens=prompt.length, params=sampling_params)
        if self.service.responder is None:
            raise RuntimeError("FakeServiceClient has no responder for sampling")
        stop = sampling_params.stop
        if stop is not None and not all(isinstance(s, int) for s in stop):
            raise NotImplementedError("the fake sampler handles stop token ids only")
        sequences = []
        for _ in range(num_samples):
            tokens = list(self.service.responder(prompt.to_ints()))
            reason = "stop"
            for position, token in enumerate(tokens):
                if stop and token in stop:
                    tokens = tokens[: position + 1]  # the stop token is returned, as Tinker does
                    break
            if sampling_params.max_tokens is not None and len(tokens) > sampling_params.max_tokens:
                tokens, reason = tokens[: sampling_params.max_tokens], "length"
            sequences.append(
                types.SampledSequence(
                    stop_reason=reason,
                    sequence_id=f"seq-{next(self._sequence_ids)}",
                    tokens_np=np.asarray(tokens, dtype=np.int32),
                )
            )
        response = types.SampleResponse(sequences=sequences)
        if not self.service.sample_delay_s:
            return _done(response)
        future: Future = Future()

        def deliver() -> None:
            if not future.cancelled():  # a caller's timeout cancels the future
                future.set_result(response)

        timer = threading.Timer(self.service.sample_delay_s, deliver)
        timer.daemon = True
        timer.start()
        return AwaitableConcurrentFuture(future)
