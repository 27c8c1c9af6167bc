"""Refusing, before any call, a request setting or a prompt a model cannot take.

The rules are ``request_params``'; this module applies them where the user can act: a setting
written in the spec that the model does not take (refused at load, naming the spec's line), a
reasoning setting it cannot honour, and a prompt longer than the model's context window
(refused by ``estimate`` naming the item, and by the online routes before the request is sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distilleval.backends.base import ChatRequest
from distilleval.backends.request_params import (
    ANTHROPIC_MIN_THINKING_BUDGET,
    REASONING_EFFORTS,
    model_rules,
    sent_settings,
)
from distilleval.errors import BackendError, ConfigurationError, DataError, SpecError


def explicit_setting_problem(model_id: str, *, temperature_set: bool, effort: str | None, budget: int | None) -> tuple[str, str] | None:
    """(field, problem) when a spec explicitly asks ``model_id`` for a setting it does not take; None when fine.

    Used at spec check time: a ``temperature`` written in the spec is refused on a model that
    takes none, rather than silently dropped; so are reasoning settings the model cannot honour.
    """
    rules = model_rules(model_id)
    if effort is not None and effort not in REASONING_EFFORTS:
        return "reasoning.effort", f"expected one of {', '.join(REASONING_EFFORTS)}"
    if (effort is not None or budget is not None) and rules.reasoning is None:
        return "reasoning", f"model {model_id!r} has no reasoning setting (no thinking or reasoning effort)"
    if budget is not None and rules.reasoning in ("openai_effort", "gemini_level", "anthropic_adaptive"):
        return "reasoning.budget_tokens", f"model {model_id!r} takes reasoning.effort (a level), not a token budget"
    if effort == "none" and rules.reasoning == "openai_effort" and not rules.supports_none_effort:
        return "reasoning.effort", f"model {model_id!r} cannot turn reasoning off (no 'none' effort); use 'minimal' or 'low'"
    if rules.reasoning == "gemini_budget" and "-pro" in model_id and (budget == 0 or effort == "none"):
        # Gemini 2.5 Pro thinks with a budget of 128 to 32,768 tokens; 0 (off) is an API error.
        return "reasoning", f"model {model_id!r} cannot turn thinking off (its smallest budget is 128 tokens)"
    if budget is not None and rules.reasoning == "anthropic_thinking" and 0 < budget < ANTHROPIC_MIN_THINKING_BUDGET:
        return "reasoning.budget_tokens", f"Anthropic's smallest thinking budget is {ANTHROPIC_MIN_THINKING_BUDGET} (0 turns thinking off)"
    if temperature_set:
        request = ChatRequest(messages=(), reasoning_effort=effort, thinking_budget_tokens=budget)
        if any(setting.startswith("temperature") for setting in sent_settings(model_id, request).dropped):
            why = "with thinking on" if rules.temperature else "at all"
            return "temperature", (
                f"model {model_id!r} takes no temperature {why} ({'; '.join(rules.sources) or 'distilleval rules'}); "
                "remove temperature from the spec"
            )
    return None


def model_setting_problem(model: Any) -> tuple[str, str] | None:
    """``explicit_setting_problem`` for a spec's ``ModelSpec`` (temperature counts only when written in the spec)."""
    return explicit_setting_problem(
        model.model,
        temperature_set="temperature" in model.model_fields_set,
        effort=model.reasoning_effort,
        budget=model.thinking_budget_tokens,
    )


def check_model_settings(role: str, model: Any) -> None:
    """Refuse, before any call, a setting the spec wrote that ``model`` does not take.

    Raises:
        ConfigurationError: one line naming the role, the field and the model.
    """
    problem = model_setting_problem(model)
    if problem is not None:
        field, message = problem
        raise ConfigurationError(f"{role}.{field}: {message}")


def check_spec_settings(spec: Any, roles: Any = None) -> None:
    """Refuse, naming the spec's file and line, a setting a role's model does not take (``roles``: default all).

    Raises:
        SpecError: ``SPEC:LINE: role.field: ...``.
    """
    from distilleval.spec.task_spec import spec_location

    for role, model in spec.models().items():
        if roles is not None and role not in roles:
            continue
        problem = model_setting_problem(model)
        if problem is not None:
            field, message = problem
            path = (*spec.model_path(role), *field.split("."))
            raise SpecError(f"{spec_location(spec, path)}: {role}.{field}: {message}")


def context_overflow(model_id: str, prompt_tokens: int, max_tokens: int) -> str | None:
    """Why a prompt of ``prompt_tokens`` cannot be sent to ``model_id`` (None when it fits or the window is unknown).

    The window is LiteLLM's ``max_input_tokens`` for the model (Tinker models: the service's
    ``max_context_length``, checked by the Tinker backend before each call).
    """
    window = model_rules(model_id).max_input_tokens
    if window is None or prompt_tokens <= window:
        return None
    return (
        f"a prompt of {prompt_tokens:,} tokens is longer than {model_id}'s context window of {window:,} input tokens "
        f"(LiteLLM model map max_input_tokens); shorten the rubric or the input"
    )


def tinker_base_of(spec: Any, model_id: str) -> str | None:
    """The Tinker base model whose context length bounds ``model_id``: ``training.base_model`` for a
    ``tinker://`` checkpoint, the model itself when it is a listed base model; None when Tinker does not serve it."""
    from distilleval.backends.tinker.catalogue import offline_catalogue
    from distilleval.backends.tinker.model_ids import TINKER_PREFIX

    if model_id.startswith(TINKER_PREFIX):
        return spec.training.base_model
    return model_id if offline_catalogue().get(model_id) is not None else None


def tinker_context_overflow(base_model: str, prompt_tokens: int, max_tokens: int) -> str | None:
    """Why a prompt of ``prompt_tokens`` plus ``max_tokens`` cannot be sampled from a Tinker model
    of ``base_model`` (None when it fits, or the offline copy gives no length).

    The length is the offline copy's ``max_context_length`` (what the service reports as
    ``SupportedModel.max_context_length``, and the Tinker backend checks before each call).
    """
    from distilleval.backends.tinker.catalogue import offline_catalogue

    catalogue = offline_catalogue()
    window = catalogue.context_length(base_model)
    if window is None or prompt_tokens + max_tokens <= window:
        return None
    return (
        f"a prompt of {prompt_tokens:,} tokens plus max_tokens {max_tokens:,} is longer than {base_model}'s context "
        f"length of {window:,} tokens (Tinker's models page, per {catalogue.origin}); shorten the rubric or the input"
    )


def check_context_lengths(spec: Any, items: Any, inputs: Mapping[str, Any]) -> None:
    """Refuse, before any call, an item whose rendered prompt does not fit a role's context window.

    A Tinker model (a ``tinker://`` checkpoint or a base model) is held to its base model's context
    length from the offline copy (prompt plus ``max_tokens``); any other to LiteLLM's ``max_input_tokens``.

    Args:
        spec: the loaded spec.
        items: the items, in the order of each role's counts.
        inputs: role -> input tokens per item, a list or an integer array (counted locally, as ``estimate``
            counts them).

    Raises:
        DataError: ``ROLE model: item ID: ...`` for the first item that does not fit.
    """
    import numpy as np

    for role, model in spec.models().items():
        tinker_base = tinker_base_of(spec, model.model)
        counts = np.asarray(inputs.get(role, []))
        # Whether a prompt fits depends on its token count alone: each distinct count is checked once,
        # and only the first item that does not fit is read (``items`` may be read from the file on access).
        found = {tokens: _overflow(tinker_base, model, tokens) for tokens in np.unique(counts).tolist()}
        problems = {tokens: problem for tokens, problem in found.items() if problem is not None}
        if problems:
            first = int(np.flatnonzero(np.isin(counts, list(problems)))[0])
            raise DataError(f"{spec.source}: {role} model, item {items[first].id}: {problems[int(counts[first])]}")


def _overflow(tinker_base: str | None, model: Any, tokens: int) -> str | None:
    """Why a prompt of ``tokens`` does not fit ``model`` (None when it fits)."""
    if tinker_base is not None:
        return tinker_context_overflow(tinker_base, tokens, model.max_tokens)
    return context_overflow(model.model, tokens, model.max_tokens)


def check_prompt_fits(model_id: str, request: ChatRequest) -> None:
    """Refuse, before it is sent (and paid for), a request whose text cannot fit the model's context window.

    Cheap for every normal prompt: a token is at least one character, so a text no longer than the
    window in characters always fits and is not counted; a longer one is counted with the local
    tokenizer (``costs.tokens``, an approximation of the provider's) against LiteLLM's
    ``max_input_tokens``. Image parts are not counted.

    Raises:
        BackendError: kind ``context_length``, not retried.
    """
    window = model_rules(model_id).max_input_tokens
    if window is None:
        return
    texts = []
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text")
    if sum(len(text) for text in texts) <= window:
        return
    from distilleval.costs.tokens import count_tokens

    tokens = sum(count_tokens(text) for text in texts)
    problem = context_overflow(model_id, tokens, request.max_tokens)
    if problem is not None:
        raise BackendError(f"{model_id}: {problem}", kind="context_length", retryable=False)
