"""Where a model's API key comes from: the environment variable the spec names, or the provider's.

The key is read from the environment at call time and handed to the client; distilleval never
writes it to a file, a log, the cache, the run store or a report.
"""

from __future__ import annotations

import os

from distilleval.errors import MissingKeyError

# LiteLLM provider prefix -> the environment variable its SDK reads by default.
PROVIDER_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "cohere": "COHERE_API_KEY",
    "xai": "XAI_API_KEY",
}

# Providers that authenticate some other way (cloud credentials, local servers).
_NO_KEY_PROVIDERS = {"vertex_ai", "bedrock", "sagemaker", "ollama", "ollama_chat", "hosted_vllm", "lm_studio"}


def provider_of(model_id: str) -> str:
    """The LiteLLM provider prefix of ``model_id`` (``openai`` for a bare name like ``gpt-4.1``)."""
    return model_id.split("/", 1)[0] if "/" in model_id else "openai"


def resolve_api_key(model_id: str, *, api_key_env: str | None, api_base: str | None, role: str) -> str | None:
    """The API key for a model, from the environment.

    Args:
        model_id: the LiteLLM model id.
        api_key_env: the variable the spec names (takes precedence).
        api_base: a custom endpoint; local OpenAI-compatible servers usually need no key.
        role: ``teacher`` / ``student``, for the error message.

    Returns:
        The key, or None when the endpoint needs none (a custom ``api_base`` without
        ``api_key_env``, or a provider that authenticates another way).

    Raises:
        MissingKeyError: the named (or the provider's default) variable is not set.
    """
    if api_key_env:
        value = os.environ.get(api_key_env)
        if not value:
            raise MissingKeyError(
                f"{role} model {model_id!r}: environment variable {api_key_env} (api_key_env in the spec) is not set"
            )
        return value
    provider = provider_of(model_id)
    default_env = PROVIDER_KEY_ENV.get(provider)
    if default_env and os.environ.get(default_env):
        return os.environ[default_env]
    if api_base is not None or provider in _NO_KEY_PROVIDERS or default_env is None:
        return None
    raise MissingKeyError(
        f"{role} model {model_id!r}: no API key; set {default_env} or name another variable with api_key_env in the spec"
    )
