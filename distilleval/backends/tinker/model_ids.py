"""Which model ids Tinker serves: ``tinker://`` checkpoints and Tinker base models."""

from __future__ import annotations

TINKER_PREFIX = "tinker://"


def is_tinker_model(model_id: str) -> bool:
    """Whether ``model_id`` is served by Tinker: a ``tinker://`` checkpoint or a Tinker base model."""
    from distilleval.backends.tinker.rendering import BASE_MODEL_TEMPLATES

    return model_id.startswith(TINKER_PREFIX) or model_id in BASE_MODEL_TEMPLATES
