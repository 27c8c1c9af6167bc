"""The prompt-cache share a provider would really give a spec's teacher, for every projection.

OpenAI and Gemini cache a long repeated prefix on their own. Anthropic caches only up to a block
carrying ``cache_control`` (distilleval marks the teacher's leading ``system`` rubric, unless the
spec says ``prompt_cache: off``), and only when that prefix reaches the model's minimum
cacheable length: a shorter marked block is simply not cached. So a spec's
``traffic.cached_input_fraction`` is a share Anthropic would never give when the rubric is too
short, missing or unmarked; projections drop it and say why. ``backends/prompt_cache`` marks
requests with the same table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from distilleval.costs.tokens import count_tokens
from distilleval.spec.task_spec import TaskSpec

# Minimum cacheable prompt length in tokens, from Anthropic's prompt-caching documentation
# (checked 2026-12): the first pattern found in the model id wins.
_ANTHROPIC_MIN_CACHEABLE = (
    ("opus-4-6", 4096),
    ("opus-4-5", 4096),
    ("haiku-4-5", 4096),
    ("sonnet-4-6", 2048),
    ("haiku-3", 2048),
    ("3-5-haiku", 2048),
    ("3-haiku", 2048),
)
_ANTHROPIC_DEFAULT_MIN_CACHEABLE = 1024


def is_anthropic_model(model_id: str) -> bool:
    """True for a LiteLLM id routed to Anthropic's Messages API."""
    return model_id.startswith("anthropic/")


def _documented_min_cacheable(model_id: str) -> int:
    name = model_id.lower()
    for pattern, tokens in _ANTHROPIC_MIN_CACHEABLE:
        if pattern in name:
            return tokens
    return _ANTHROPIC_DEFAULT_MIN_CACHEABLE


@functools.lru_cache(maxsize=64)
def _map_min_cacheable(model_id: str) -> int | None:
    """LiteLLM's map's ``prompt_cache_min_tokens`` for the model (None when the map or the field is absent)."""
    from distilleval.costs.litellm_prices import read_price_map
    from distilleval.errors import ConfigurationError, DataError

    try:
        entries = read_price_map().entries
    except (ConfigurationError, DataError):
        return None
    bare = model_id.split("/", 1)[1] if "/" in model_id else model_id
    for key in (model_id, bare):
        value = (entries.get(key) or {}).get("prompt_cache_min_tokens")
        if isinstance(value, int) and value > 0:
            return value
    return None


def anthropic_min_cacheable_range(model_id: str) -> tuple[int, int]:
    """(lowest, highest) minimum cacheable prefix the two sources give: Anthropic's documentation
    (the table above) and LiteLLM's map (``prompt_cache_min_tokens``). They disagree for some
    models (claude-sonnet-4-6: 2,048 documented, 1,024 in the map; claude-opus-4-7: 2,048 in the
    map, not in the table)."""
    documented = _documented_min_cacheable(model_id)
    mapped = _map_min_cacheable(model_id)
    return (documented, documented) if mapped is None else (min(documented, mapped), max(documented, mapped))


def anthropic_min_cacheable_tokens(model_id: str) -> int:
    """The shortest prefix, in tokens, a projection may count on Anthropic caching for ``model_id``.

    Where the documentation and LiteLLM's map disagree the larger wins: a projection claims a
    cache share only when both sources say it would be cached. (Requests are marked at the
    smaller, ``anthropic_min_cacheable_range``: a marker on a block too short to cache costs nothing.)
    """
    return anthropic_min_cacheable_range(model_id)[1]


@dataclass(frozen=True)
class CacheShare:
    """The cached-input share a projection may use, and why a spec'd share was dropped (else None)."""

    share: float
    dropped: str | None = None


def teacher_cache_share(spec: TaskSpec, model_id: str | None = None) -> CacheShare:
    """The share of the teacher's input a prompt cache would serve, as the spec projects it.

    Args:
        spec: the spec (``traffic.cached_input_fraction``, the teacher's rubric and ``prompt_cache``).
        model_id: price this model as the teacher instead of ``spec.teacher.model`` (an alternative
            teacher priced with the same prompts).

    Returns:
        ``traffic.cached_input_fraction``, or 0 with the reason when the model is Anthropic's and
        the rubric would not be cached (no leading system rubric, ``prompt_cache: off``, or a
        rubric below the model's minimum cacheable length, counted with the local tokenizer).
    """
    fraction = spec.traffic.cached_input_fraction
    model = model_id or spec.teacher.model
    if fraction == 0 or not is_anthropic_model(model):
        return CacheShare(fraction)
    spec_d = f"the spec's traffic.cached_input_fraction ({fraction:.0%}) is not applied to {model}"
    if spec.teacher.prompt_cache == "off":
        return CacheShare(0.0, f"{spec_d}: teacher.prompt_cache is off, so the rubric is never marked cacheable")
    rubric = spec.teacher.system_text or spec.teacher.system or ""
    if not rubric:
        return CacheShare(0.0, f"{spec_d}: the teacher has no system rubric, and Anthropic caches only a marked prefix")
    tokens, minimum = count_tokens(rubric), anthropic_min_cacheable_tokens(model)
    if tokens < minimum:
        return CacheShare(
            0.0,
            f"{spec_d}: the teacher's system rubric ({tokens:,} tokens, local count) is below the model's minimum "
            f"cacheable prefix ({minimum:,} tokens), so Anthropic would not cache it",
        )
    return CacheShare(fraction)


def model_cache_share(spec: TaskSpec, name: str) -> CacheShare:
    """The share of a called model's input a prompt cache would serve, as the spec projects it.

    The teacher's is ``teacher_cache_share``. A prompted candidate sent the teacher's rubric (the
    same system message) shares it, judged for its own model; one with a rubric of its own, and
    the student (raw input only), are projected uncached.
    """
    if name == "teacher":
        return teacher_cache_share(spec)
    model = spec.models().get(name)
    if name == "student" or model is None or not model.system_text or model.system_text != spec.teacher.system_text:
        return CacheShare(0.0)
    if model.prompt_cache == "off" and is_anthropic_model(model.model) and spec.traffic.cached_input_fraction:
        return CacheShare(0.0, f"the spec's traffic.cached_input_fraction is not applied to {model.model}: "
                               f"{name}.prompt_cache is off, so the rubric is never marked cacheable")
    return teacher_cache_share(spec, model.model)
