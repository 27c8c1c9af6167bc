"""Which model ids Tinker serves: ``tinker://`` checkpoints and Tinker base models."""

from __future__ import annotations

TINKER_PREFIX = "tinker://"


def is_tinker_model(model_id: str) -> bool:
    """Whether ``model_id`` is served by Tinker: a ``tinker://`` checkpoint or a base model in the catalogue."""
    from distilleval.backends.tinker.catalogue import offline_catalogue

    return model_id.startswith(TINKER_PREFIX) or offline_catalogue().get(model_id) is not None
