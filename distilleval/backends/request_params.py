"""Which request settings a model takes: decided once per model, applied the same way on every route.

A GPT-5-family or o-series model takes ``max_completion_tokens`` (``max_tokens`` is a 400
``unsupported_parameter``) and takes ``temperature`` / ``top_p`` only while its reasoning
effort is ``none``; some Claude models take no sampling parameters at all; Gemini 2.5 thinks
by default and its thinking counts toward ``maxOutputTokens``. The online LiteLLM route, the
fast path, OpenAI batch lines and Anthropic batches all ask ``model_rules`` and
``sent_settings`` here, so they never disagree.

The rules come from data: LiteLLM's bundled model map, read as JSON without importing LiteLLM
(``costs.litellm_prices.read_price_map``), with the same reading of it that LiteLLM's own
parameter mapping uses (``supports_sampling_params``, ``supports_none_reasoning_effort``,
``default_reasoning_effort``, ``supports_reasoning``, ``max_input_tokens``), and a small dated
table of our own (``OVERRIDES``) where the map says nothing or is wrong. docs/providers.md
lists every rule with its source and date.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from distilleval.backends.base import ChatRequest
from distilleval.errors import ConfigurationError, DataError

RULES_CHECKED_ON = "2026-12-07"

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")

# Thinking tokens per effort level where the provider takes a token budget (Anthropic, Gemini 2.5).
# distilleval's own table (docs/providers.md); Anthropic's smallest budget is 1,024.
EFFORT_BUDGETS = {"none": 0, "minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}

# With no reasoning setting in the spec, a model that thinks by default gets this many tokens on top
# of the spec's max_tokens (the answer's room), and Gemini 2.5 gets it as its thinking budget: a
# label or extraction answer is never lost to thinking that filled the whole limit.
DEFAULT_THINKING_ALLOWANCE = 1024
# An OpenAI reasoning model at its own default effort takes no budget; this much room is left for it.
DEFAULT_OPENAI_REASONING_ALLOWANCE = 4096

ANTHROPIC_MIN_THINKING_BUDGET = 1024

# Model-name patterns (matched against the id without its provider prefix) -> rule fields that the
# map gets wrong or does not state; every entry says when and why.
OVERRIDES: tuple[tuple[str, dict[str, Any], str], ...] = (
    (r"^claude-opus-4-7", {"temperature": False, "top_p": False},
     "2026-12-07: rejects sampling parameters (LiteLLM UnsupportedParamsError; map: supports_sampling_params false)"),
    (r"^claude-sonnet-5", {"temperature": False, "top_p": False, "thinks_by_default": True},
     "2026-12-07: rejects sampling parameters and thinks unless told not to (map: thinking_on_by_default)"),
    (r"^gpt-5-mini", {"temperature": False, "top_p": False},
     "2026-12-07: no 'none' reasoning effort, so never takes temperature (map: supports_none_reasoning_effort false)"),
    (r"^gpt-5\.5", {"temperature": False, "top_p": False},
     "2026-12-07: the map states no default effort; LiteLLM and the API refuse temperature=0 at the default effort"),
)

# Anthropic's SDK 2.x Messages request has no sampling parameters at all (checked on 2.17, 2026-12-07).
ANTHROPIC_SDK_DROPPED_SAMPLING = True

_OPENAI_REASONING_NAME = re.compile(r"^(gpt-5(?!-chat)|gpt-6|o[1-9](\b|-|$))")
_GEMINI_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class ModelRules:
    """What one model takes.

    Attributes:
        model_id: the spec's model id.
        provider: ``openai``, ``anthropic``, ``gemini`` or ``other`` (an OpenAI-compatible server).
        token_limit_field: ``max_tokens`` or ``max_completion_tokens`` (OpenAI's chat field name).
        temperature: whether ``temperature`` is taken (at the spec's reasoning setting).
        top_p: whether ``top_p`` is taken.
        reasoning: how a reasoning setting is sent: ``openai_effort`` (``reasoning_effort``),
            ``anthropic_thinking`` (``thinking.budget_tokens``), ``anthropic_adaptive`` (adaptive
            thinking at ``output_config.effort``: Claude models with no budget), ``gemini_budget``
            (``thinkingConfig.thinkingBudget``), ``gemini_level`` (Gemini 3: effort only), or None.
        thinks_by_default: the model thinks unless told otherwise (and thinking counts toward the limit).
        supports_none_effort: an OpenAI reasoning model that can be told not to reason.
        default_effort: the provider's default effort, when the map states it.
        max_input_tokens: the context window for the prompt (None: unknown).
        sources: where each decision came from, for notes and docs.
    """

    model_id: str
    provider: str
    token_limit_field: str = "max_tokens"
    temperature: bool = True
    top_p: bool = True
    reasoning: str | None = None
    thinks_by_default: bool = False
    supports_none_effort: bool = False
    default_effort: str | None = None
    max_input_tokens: int | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class SentSettings:
    """The sampling and reasoning fields one request is sent with, after the model's rules.

    ``token_limit`` is the spec's ``max_tokens`` plus the room left for thinking
    (``thinking_budget`` or an allowance), because every provider counts thinking toward it.
    ``thinking_budget`` is None when no budget is sent, 0 to turn thinking off.
    ``dropped`` names each spec setting the model does not take (left out of the request).
    """

    token_limit_field: str
    token_limit: int
    temperature: float | None
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    dropped: tuple[str, ...] = ()


def provider_of(model_id: str) -> str:
    """``openai`` / ``anthropic`` / ``gemini`` / ``other`` from a LiteLLM model id (bare names are OpenAI's)."""
    if "/" not in model_id:
        return "openai"
    prefix = model_id.split("/", 1)[0]
    if prefix in ("openai", "anthropic", "gemini"):
        return prefix
    return "other"


def _bare_name(model_id: str) -> str:
    return model_id.split("/", 1)[1] if "/" in model_id else model_id


@functools.lru_cache(maxsize=1)
def _model_map() -> dict[str, dict]:
    """LiteLLM's bundled model map as JSON ({} when LiteLLM or its map is not installed)."""
    from distilleval.costs.litellm_prices import read_price_map

    try:
        return read_price_map().entries
    except (ConfigurationError, DataError):
        return {}


def map_entry(model_id: str) -> dict[str, Any]:
    """The model map's entry for ``model_id`` (tried as written, bare, and provider-prefixed); {} when absent."""
    entries = _model_map()
    bare = _bare_name(model_id)
    for key in (model_id, bare, f"{provider_of(model_id)}/{bare}"):
        entry = entries.get(key)
        if isinstance(entry, dict):
            return entry
    return {}


@functools.lru_cache(maxsize=256)
def model_rules(model_id: str) -> ModelRules:
    """The rules of ``model_id``, from LiteLLM's map and ``OVERRIDES`` (see the module docstring)."""
    provider = provider_of(model_id)
    bare = _bare_name(model_id)
    entry = map_entry(model_id)
    sources: list[str] = []
    fields: dict[str, Any] = {"max_input_tokens": entry.get("max_input_tokens") if isinstance(entry.get("max_input_tokens"), int) else None}
    if entry:
        sources.append(f"LiteLLM model map entry {bare!r}")
    if provider == "openai" and _OPENAI_REASONING_NAME.match(bare):
        # LiteLLM's gpt-5 / o-series mapping: max_tokens -> max_completion_tokens; temperature and
        # top_p only while the effort resolves to 'none' (the map's default, or asked for).
        supports_none = bool(entry.get("supports_none_reasoning_effort", False))
        default_effort = entry.get("default_reasoning_effort") if isinstance(entry.get("default_reasoning_effort"), str) else None
        sampling = supports_none and default_effort == "none"
        fields |= {
            "token_limit_field": "max_completion_tokens", "temperature": sampling, "top_p": sampling,
            "reasoning": "openai_effort", "thinks_by_default": default_effort != "none",
            "supports_none_effort": supports_none, "default_effort": default_effort,
        }
        sources.append("OpenAI reasoning series (gpt-5*, gpt-6*, o*): max_completion_tokens; sampling only at effort 'none'")
    elif provider == "anthropic":
        # The anthropic SDK (2.17) declares no temperature, top_p or top_k in a Messages request;
        # LiteLLM's map still lets older models sample (supports_sampling_params), the SDK wins.
        sampling = entry.get("supports_sampling_params", True) is not False and not ANTHROPIC_SDK_DROPPED_SAMPLING
        sources.append(
            "anthropic SDK 2.17 MessageCreateParams: no temperature/top_p/top_k (checked 2026-12-07)"
            if ANTHROPIC_SDK_DROPPED_SAMPLING else "LiteLLM model map supports_sampling_params"
        )
        # Newer Claude models think only "adaptively" at an effort level, with no token budget.
        adaptive_only = bool(entry.get("supports_adaptive_thinking")) and not entry.get("supports_legacy_thinking")
        reasoning = "anthropic_adaptive" if adaptive_only else "anthropic_thinking"
        fields |= {
            "temperature": sampling, "top_p": sampling,
            "reasoning": reasoning if entry.get("supports_reasoning") or not entry else None,
            "thinks_by_default": bool(entry.get("thinking_on_by_default", False)),
        }
    elif provider == "gemini":
        version = _GEMINI_VERSION.search(bare)
        major = int(version.group(1)) if version else 0
        reasons = bool(entry.get("supports_reasoning")) or major >= 3 or (major == 2 and version and version.group(2) == "5")
        fields |= {
            "reasoning": ("gemini_level" if major >= 3 else "gemini_budget") if reasons else None,
            "thinks_by_default": bool(reasons),
        }
    for pattern, overrides, why in OVERRIDES:
        if re.search(pattern, bare):
            fields |= overrides
            sources.append(f"distilleval override {why}")
    return ModelRules(model_id=model_id, provider=provider, sources=tuple(sources), **fields)


def _temperature_taken(rules: ModelRules, effort: str | None, thinking_on: bool) -> bool:
    if rules.reasoning == "openai_effort":
        # Sampling only at effort 'none': asked for (on a model that has it), or the model's default.
        if effort is not None:
            return effort == "none" and rules.supports_none_effort
        return rules.temperature
    if rules.reasoning in ("anthropic_thinking", "anthropic_adaptive") and thinking_on:
        return False  # Anthropic: thinking is not compatible with a temperature setting
    return rules.temperature


def sent_settings(model_id: str, request: ChatRequest) -> SentSettings:
    """The token limit, temperature and reasoning fields ``request`` is sent with to ``model_id``.

    The spec's ``max_tokens`` is the answer's room; thinking gets its own room on top (the
    spec's budget, the effort's budget, or a default allowance for a model that thinks by
    default). A setting the model does not take is left out and named in ``dropped``.
    """
    rules = model_rules(model_id)
    effort, budget = request.reasoning_effort, request.thinking_budget_tokens
    dropped: list[str] = []
    sent_effort: str | None = None
    sent_budget: int | None = None
    allowance = 0
    if rules.reasoning == "openai_effort":
        sent_effort = effort
        if effort is None and budget is not None:
            dropped.append("reasoning.budget_tokens (OpenAI takes an effort, not a budget)")
        if (sent_effort or rules.default_effort) == "none":
            allowance = 0
        else:
            allowance = EFFORT_BUDGETS[sent_effort] if sent_effort else DEFAULT_OPENAI_REASONING_ALLOWANCE
    elif rules.reasoning in ("anthropic_thinking", "gemini_budget"):
        if budget is None and effort is not None:
            budget = EFFORT_BUDGETS[effort]
        if budget is None and rules.thinks_by_default:
            budget = DEFAULT_THINKING_ALLOWANCE if rules.reasoning == "gemini_budget" else None
            allowance = DEFAULT_THINKING_ALLOWANCE
        if budget is not None:
            sent_budget = budget
            allowance = budget
    elif rules.reasoning == "anthropic_adaptive":
        if budget is not None:
            dropped.append("reasoning.budget_tokens (this Claude model takes an effort level, not a budget)")
        if effort == "none":
            sent_budget = 0
        elif effort is not None:
            sent_effort = effort
            allowance = EFFORT_BUDGETS[effort]
        elif rules.thinks_by_default:
            allowance = DEFAULT_THINKING_ALLOWANCE
    elif rules.reasoning == "gemini_level":
        # Gemini 3 thinks at a level and cannot be turned off; unset, it is asked for 'low' (its
        # own default, 'high', can spend thousands of tokens on a one-word label).
        sent_effort = effort or "low"
        if budget is not None:
            dropped.append("reasoning.budget_tokens (Gemini 3 takes an effort level, not a budget)")
        allowance = EFFORT_BUDGETS["low" if sent_effort in ("none", "minimal") else sent_effort]
    elif effort is not None or budget is not None:
        dropped.append(f"reasoning (the model {model_id!r} has no reasoning setting)")
    thinking_on = bool(sent_budget) or (sent_budget is None and (rules.thinks_by_default or sent_effort is not None))
    temperature: float | None = request.temperature
    if not _temperature_taken(rules, sent_effort, thinking_on):
        temperature = None
        dropped.append(f"temperature={request.temperature:g}")
    return SentSettings(
        token_limit_field=rules.token_limit_field,
        token_limit=request.max_tokens + allowance,
        temperature=temperature,
        reasoning_effort=sent_effort,
        thinking_budget=sent_budget,
        dropped=tuple(dropped),
    )


def openai_fields(model_id: str, request: ChatRequest) -> dict[str, Any]:
    """The token limit, temperature and reasoning in OpenAI chat-completions (and LiteLLM) vocabulary.

    Anthropic and Gemini budgets travel as LiteLLM's ``thinking`` parameter (LiteLLM turns it
    into ``thinking.budget_tokens`` or ``thinkingConfig.thinkingBudget``); an effort on
    Gemini 3 as ``reasoning_effort`` (``thinkingConfig.thinkingLevel``).
    """
    settings = sent_settings(model_id, request)
    fields: dict[str, Any] = {settings.token_limit_field: settings.token_limit}
    if settings.temperature is not None:
        fields["temperature"] = settings.temperature
    if settings.reasoning_effort is not None:
        fields["reasoning_effort"] = settings.reasoning_effort
    if settings.thinking_budget:
        fields["thinking"] = {"type": "enabled", "budget_tokens": settings.thinking_budget}
    elif settings.thinking_budget == 0:
        # LiteLLM sends Gemini thinkingBudget 0 only when it is given a budget of 0.
        fields["thinking"] = {"type": "disabled", "budget_tokens": 0} if provider_of(model_id) == "gemini" else {"type": "disabled"}
    return fields


def takes_logprobs(model_id: str) -> bool:
    """Whether the model's chat endpoint returns token log-probabilities when asked (``logprobs: true``).

    OpenAI's chat completions take it on its non-reasoning models (gpt-4.1, gpt-4o, ...); its
    reasoning series (gpt-5*, o*) answer 400 to it; an OpenAI-compatible server reached as
    ``openai/<name>`` (vLLM, llama.cpp) takes it too. Anthropic's Messages API has no such field
    (an unknown field is a 400); Gemini and other providers are not asked (LiteLLM refuses a
    parameter a provider does not take): those routes give no confidence.
    """
    rules = model_rules(model_id)
    return rules.provider == "openai" and rules.reasoning is None


def dropped_notes(model_id: str, request: ChatRequest) -> list[str]:
    """One note per spec setting ``model_id`` does not take (for the run's summary); [] when none."""
    return [
        f"{model_id} does not take {setting}: left out of every request (rules checked {RULES_CHECKED_ON})"
        for setting in sent_settings(model_id, request).dropped
    ]










def model_notes(model: Any) -> list[str]:
    """``dropped_notes`` for a spec's ``ModelSpec``: what its requests leave out, for the run's summary."""
    request = ChatRequest(
        messages=(), max_tokens=model.max_tokens, temperature=model.temperature,
        reasoning_effort=model.reasoning_effort, thinking_budget_tokens=model.thinking_budget_tokens,
    )
    return dropped_notes(model.model, request)
