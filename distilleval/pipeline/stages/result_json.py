"""A stage's result as JSON: the result's own fields, serialised, never a shape assembled by hand.

A field whose metadata holds ``RENDER_ONLY`` is kept on the result for the text a command prints
(a cost table, token totals behind a markdown row) and left out of the JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

RENDER_ONLY: Mapping[str, bool] = {"render_only": True}
"""Field metadata: keep the field on the result, leave it out of its JSON."""


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: an object with ``as_dict()`` as that dict, a dataclass as its fields in
    order (render-only ones left out), a pydantic model as its ``model_dump()``, mappings, sequences and paths recursively.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Shown:
    ...     kept: tuple[int, ...]
    ...     hidden: str = dataclasses.field(default="x", metadata=RENDER_ONLY)
    >>> to_jsonable(Shown((1, 2)))
    {'kept': [1, 2]}
    """
    if callable(getattr(value, "as_dict", None)):
        return to_jsonable(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_jsonable(getattr(value, field.name))
                for field in dataclasses.fields(value) if not field.metadata.get("render_only")}
    if callable(getattr(value, "model_dump", None)):
        return to_jsonable(value.model_dump())
    if isinstance(value, Mapping):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    return value


def to_json(result: Any) -> str:
    """``result`` serialised (``to_jsonable``) as indented JSON, the text ``--format json`` prints."""
    return json.dumps(to_jsonable(result), indent=2)
