"""Pick the batch client of a model's provider (``batch_openai`` or ``batch_anthropic``)."""

from __future__ import annotations

from distilleval.backends.batch_api import BatchClient, check_batch_capable, provider_name


def batch_client_for(
    role: str, model_id: str, *, api_base: str | None, api_key: str | None, prompt_cache: str = "auto"
) -> BatchClient:
    """The batch client of ``model_id``'s provider.

    Args:
        role: ``teacher`` / ``student``, for messages.
        model_id: the spec's model id (``openai/...`` or ``anthropic/...``).
        api_base: the provider's base URL (None: the public endpoint).
        api_key: the key; never logged.
        prompt_cache: the spec's ``prompt_cache`` (Anthropic: ``auto`` marks the rubric cacheable).

    Raises:
        ConfigurationError: the provider has no batch API here.
    """
    check_batch_capable(role, model_id)
    if provider_name(model_id) == "anthropic":
        from distilleval.backends.batch_anthropic import AnthropicBatchClient

        return AnthropicBatchClient(model_id, api_base=api_base, api_key=api_key, prompt_cache=prompt_cache)
    from distilleval.backends.batch_openai import OpenAIBatchClient

    return OpenAIBatchClient(model_id, api_base=api_base, api_key=api_key)
