"""Sampling backend for Tinker: a ``tinker://`` checkpoint or a Tinker base model.

The chat messages the runner built (the student's raw-input prompt) are rendered with the
base model's chat template, exactly as in training, and sampled with ``SamplingParams``
(max_tokens, temperature 0 by default, the template's end-of-turn token as stop). Extra
stop strings from the spec cut the decoded text, since Tinker takes stop strings or stop
token ids but not both. Token counts are the rendered prompt and the sampled tokens;
latency is measured around the call; cost comes from the pricing table.

``tinker`` is imported only when a backend is opened.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distilleval.backends._http import TOKEN_LOGPROBS_BASIS
from distilleval.backends.base import ChatRequest, Completion
from distilleval.backends.tinker.catalogue import plain_name
from distilleval.backends.tinker.connection import (
    DEFAULT_CONNECT_DEADLINE_S,
    call_with_deadline,
    connect,
    deadline_from_env,
    resolved,
    rest_client,
    translate_error,
)
from distilleval.backends.tinker.images import ImageInput, image_from_bytes, load_image
from distilleval.backends.tinker.model_ids import TINKER_PREFIX
from distilleval.backends.tinker.rendering import ChatRenderer, Message, renderer_for, template_for, to_model_input
from distilleval.backends.tinker.tokenizers import Tokenizer
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import BackendError, CallTimeoutError, ConfigurationError, DataError
from distilleval.spec.task_spec import ModelSpec


def _image_part(part: dict, where: str) -> ImageInput:
    url = (part.get("image_url") or {}).get("url", "") if isinstance(part.get("image_url"), dict) else ""
    if url.startswith("data:") and ";base64," in url:
        return image_from_bytes(base64.b64decode(url.split(";base64,", 1)[1]), source="the embedded image", where=where)
    if url.startswith("file://"):
        return load_image(Path(url.removeprefix("file://")), where=where)
    raise BackendError(f"{where}: an image part needs a data: or file:// URL", kind="bad_request")


def _messages(request: ChatRequest) -> list[Message]:
    messages = []
    for index, message in enumerate(request.messages):
        content = message.get("content")
        images: list[ImageInput] = []
        if isinstance(content, list):  # text and image parts (a vision student's input)
            texts = []
            for number, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text":
                    texts.append(str(part.get("text", "")))
                elif kind == "image_url":
                    try:
                        images.append(_image_part(part, f"message {index} part {number}"))
                    except DataError as err:
                        raise BackendError(str(err), kind="bad_request") from None
                else:
                    raise BackendError(f"message {index} part {number}: unsupported part {kind!r}", kind="bad_request")
            content = "".join(texts)
        if not isinstance(content, str):
            raise BackendError(f"message {index}: content must be text or text and image parts", kind="bad_request")
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise BackendError(f"message {index}: unsupported role {role!r}", kind="bad_request")
        messages.append(Message(role=role, content=content, images=tuple(images)))
    return messages


def _cut_at_stop_strings(text: str, stops: tuple[str, ...]) -> str:
    positions = [text.find(stop) for stop in stops if stop and stop in text]
    return text[: min(positions)] if positions else text


def _sequence_confidence(sequence: Any) -> float | None:
    """exp(mean log-probability) of a sampled sequence's tokens (``SampledSequence.logprobs``);
    None when the service sent none or one is not a finite log-probability."""
    logprobs = getattr(sequence, "logprobs", None)
    if not logprobs:
        return None
    values = [float(v) for v in logprobs]
    if not all(math.isfinite(v) and v <= 0 for v in values):
        return None
    return math.exp(sum(values) / len(values))


class TinkerBackend:
    """A ``Backend`` over a Tinker sampling client.

    Args:
        model_id: the spec's model id (``tinker://...`` or a base model), used for cache keys.
        sampling_client: a ``tinker.SamplingClient`` (or the test double).
        renderer: the base model's chat renderer.
        price: the pricing entry the calls are costed with (None: recorded as $0).
    """

    def __init__(
        self, model_id: str, *, sampling_client: Any, renderer: ChatRenderer, price: ModelPrice | None,
        max_context_tokens: int | None = None,
    ) -> None:
        self.model_id = model_id
        self._client = sampling_client
        self._renderer = renderer
        self._price = price
        self.max_context_tokens = max_context_tokens

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Sample one completion; raises a ``BackendError`` subclass on failure."""
        from tinker import types

        try:
            prompt_ids, images = self._renderer.generation_input(_messages(request))
        except ConfigurationError as err:  # images for a text-only model
            raise BackendError(f"{self.model_id}: {err}", kind="bad_request") from None
        if self.max_context_tokens is not None and len(prompt_ids) + request.max_tokens > self.max_context_tokens:
            # Checked before the call: the service would refuse it (400) after the request was sent.
            raise BackendError(
                f"{self.model_id}: the prompt ({len(prompt_ids):,} tokens) plus max_tokens ({request.max_tokens:,}) "
                f"exceeds the model's context length of {self.max_context_tokens:,} tokens",
                kind="context_length", retryable=False,
            )
        params = types.SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=list(self._renderer.stop_token_ids),
        )
        started = time.perf_counter()
        try:
            future = self._client.sample(prompt=to_model_input(prompt_ids, images), num_samples=1, sampling_params=params)
            response = await future.result_async(timeout=timeout_s)
        except TimeoutError:
            raise CallTimeoutError(f"Tinker sampling did not finish within {timeout_s:g} s") from None
        except Exception as err:  # noqa: BLE001 - translated at this one choke point
            raise translate_error(err, f"sampling {self.model_id}") from None
        latency_ms = (time.perf_counter() - started) * 1000.0
        if not response.sequences:
            raise BackendError(f"Tinker returned no sequence for {self.model_id}", kind="bad_response")
        sequence = response.sequences[0]
        sampled = list(sequence.tokens)
        text, ended = self._renderer.parse_response(sampled)
        # Whether the stop token is echoed back is the service's choice; its stop_reason is not.
        ended = ended or sequence.stop_reason == "stop"
        text = _cut_at_stop_strings(text, request.stop)
        # Prompt tokens Tinker billed as prefix-cache hits, priced at the cached-prefill rate.
        cache_hits = min(max(int(getattr(response, "prompt_cache_hit_tokens", 0) or 0), 0), len(prompt_ids))
        cost = request_cost_usd(self._price, len(prompt_ids), len(sampled), cached_input_tokens=cache_hits) if self._price else 0.0
        confidence = _sequence_confidence(sequence)
        return Completion(
            text=text,
            input_tokens=len(prompt_ids),
            output_tokens=len(sampled),
            latency_ms=latency_ms,
            cost_usd=cost,
            extra={"stop_reason": sequence.stop_reason, "ended": ended},
            cached_input_tokens=cache_hits,
            confidence=confidence,
            confidence_basis=TOKEN_LOGPROBS_BASIS if confidence is not None else None,
        )

    async def aclose(self) -> None:
        """Nothing to release: the SDK's session ends with the process."""


def build_tinker_backend(
    role: str,
    model: ModelSpec,
    *,
    price: ModelPrice | None,
    service_factory: Callable[[], Any] | None = None,
    tokenizer: Tokenizer | None = None,
) -> TinkerBackend:
    """The entry point ``distilleval.backends.factory`` uses for ``tinker://`` models.

    The chat template comes from the base model the service reports for the checkpoint.

    Raises:
        ConfigurationError / BackendError: as ``open_sampling_backend``, naming the role.
    """
    try:
        return open_sampling_backend(model.model, price=price, service_factory=service_factory, tokenizer=tokenizer,
                                     connect_deadline_s=deadline_from_env())
    except ConfigurationError as err:
        raise ConfigurationError(f"{role} model {model.model!r}: {err}") from None


def open_sampling_backend(
    model_id: str,
    *,
    price: ModelPrice | None,
    base_model: str | None = None,
    service_factory: Callable[[], Any] | None = None,
    tokenizer: Tokenizer | None = None,
    connect_deadline_s: float = DEFAULT_CONNECT_DEADLINE_S,
) -> TinkerBackend:
    """Check the key, connect, and open a sampling backend for ``model_id``.

    Args:
        model_id: ``tinker://<run>/sampler_weights/<name>`` or a Tinker base model id.
        price: its pricing row (None: unpriced, its costs are unknown).
        base_model: for a ``tinker://`` path, the base model it was trained from; when given,
            the service's answer must match it; when None it is asked of the service.
        service_factory: replaces ``tinker.ServiceClient`` (tests).
        tokenizer: replaces the base model's tokenizer (tests).
        connect_deadline_s: give up reaching the service after this long.

    Raises:
        ConfigurationError: key missing/malformed, tinker missing, unknown base model.
        BackendError: the service refused or did not answer in time.
    """
    is_path = model_id.startswith(TINKER_PREFIX)
    # An unknown base model fails here, before the network is touched.
    if not is_path:
        template_for(model_id)
    elif base_model is not None:
        template_for(base_model)
    service = connect(service_factory=service_factory)
    kwargs = {"model_path": model_id} if is_path else {"base_model": model_id}
    client = call_with_deadline(
        lambda: resolved(service.create_sampling_client(**kwargs), "create_sampling_client"),
        deadline_s=connect_deadline_s,
        doing=f"creating a sampling client for {model_id}",
    )
    served_base = model_id
    if is_path:
        served_base = call_with_deadline(
            client.get_base_model, deadline_s=connect_deadline_s, doing=f"asking the base model of {model_id}"
        )
        # The service may name the base with a ``:suffix`` (a long-context variant): same model, same template.
        if base_model is not None and plain_name(served_base) != plain_name(base_model):
            raise ConfigurationError(
                f"{model_id} was trained from {served_base}, not {base_model} (training.base_model); "
                "fix the spec so the chat template matches"
            )
    renderer = renderer_for(served_base, tokenizer=tokenizer)
    context = max_context_length(service, served_base, deadline_s=connect_deadline_s)
    return TinkerBackend(model_id, sampling_client=client, renderer=renderer, price=price, max_context_tokens=context)


def max_context_length(service: Any, base_model: str, *, deadline_s: float) -> int | None:
    """The service's ``SupportedModel.max_context_length`` for ``base_model`` (None when it does not say).

    A ``:suffix`` long-context variant is matched by its full name first, then by its plain name.
    """
    try:
        capabilities = call_with_deadline(
            lambda: rest_client(service).get_server_capabilities().result(),
            deadline_s=deadline_s, doing="asking the service's model capabilities",
        )
    except Exception:  # noqa: BLE001 - the check is a courtesy; sampling still reports a 400
        return None
    models = {m.model_name: m for m in getattr(capabilities, "supported_models", None) or [] if m.model_name}
    found = models.get(base_model) or models.get(plain_name(base_model))
    return getattr(found, "max_context_length", None) if found is not None else None
