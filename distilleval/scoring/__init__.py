"""Task metrics: one module per family, built from a spec by ``build_scorer``.

- ``classification``: exact match, per-class P/R/F1 with an explicit INVALID class.
- ``json_fields``: field F1 of JSON outputs with Hungarian matching of list fields.
- ``spans``: entity spans, strict / exact boundary / partial / type.
- ``sql_execution`` (+ ``sql_worker``): execution accuracy, read-only and time-limited.
- ``python``: a user function ``fn(prediction, gold, item) -> float``.
- a user's own ``Scorer``: ``register_scorer("my_scorer", factory)``, then ``scorer: {kind: my_scorer}``
  in a spec (or ``kind: "package.module:factory"`` without registering).

The names below are imported on first use, so a SQL worker process (which imports
``distilleval.scoring.sql_worker``) starts without loading pydantic or scipy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ItemScore", "SCORERS", "Scorer", "build_scorer", "register_scorer"]

_HOMES = {
    "ItemScore": "distilleval.scoring.base",
    "Scorer": "distilleval.scoring.base",
    "SCORERS": "distilleval.scoring.registry",
    "build_scorer": "distilleval.scoring.registry",
    "register_scorer": "distilleval.scoring.registry",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'distilleval.scoring' has no attribute {name!r}")
