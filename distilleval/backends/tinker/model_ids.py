"""Which model ids Tinker serves: ``tinker://`` checkpoints and Tinker base models."""

from __future__ import annotations

TINKER_PREFIX = "tinker://"


def is_tinker_model(model_id: str) -> bool:
    """Whether ``model_id`` is served by Tinker: a ``tinker://`` checkpoint or a base model in the catalogue."""
    from distilleval.backends.tinker.catalogue import offline_catalogue

    return model_id.startswith(TINKER_PREFIX) or offline_catalogue().get(model_id) is not None


# What disables thinking in a Qwen3 / Qwen3.5 chat template rendered by an OpenAI-compatible
# server (the Hugging Face template's ``enable_thinking`` switch, passed through the request).
THINKING_OFF_FIELD = "chat_template_kwargs"


def openai_route_fields(model: str) -> dict:
    """Extra request fields for a ``tinker://`` checkpoint called through an OpenAI-compatible route.

    Distilleval trains hybrid-thinking Qwen students on the template's thinking-off form (an
    empty ``<think></think>`` block before the answer); a server applying the same template
    defaults to thinking on, a different prompt from the one trained on. So a ``tinker://``
    checkpoint gets the switch that turns thinking off (harmless for templates without one).
    Other models get nothing: their thinking is the provider's and the spec's business.

    Args:
        model: the model name as sent or as the spec writes it (``openai/`` prefix allowed).
    """
    served = model.split("/", 1)[1] if model.startswith(("openai/", "hosted_vllm/")) else model
    if served.startswith(TINKER_PREFIX):
        return {THINKING_OFF_FIELD: {"enable_thinking": False}}
    return {}
