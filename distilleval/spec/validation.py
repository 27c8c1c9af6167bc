"""Turn pydantic validation errors into one-line, user-facing messages.

Every message has the shape ``FILE:LINE: FIELD.PATH: what was expected, found what``.
"""

from __future__ import annotations

from collections.abc import Set
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from distilleval.spec.yaml_source import FieldPath, LineIndex


def format_field_path(loc: FieldPath) -> str:
    """``("gates", "student_min")`` -> ``gates.student_min``; list positions as ``[0]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _describe_found(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _clean_loc(loc: FieldPath, tags: set[str]) -> FieldPath:
    """Drop pydantic's union-member tags (e.g. ``json_fields`` or ``function-after[...]``)."""
    return tuple(
        part
        for part in loc
        if not (isinstance(part, str) and (part in tags or "[" in part or part.startswith("function-")))
    )


def describe_validation_error(
    err: ValidationError,
    *,
    source: Path,
    lines: LineIndex | None,
    union_tags: Set[str] = frozenset(),
) -> str:
    """The first error of ``err`` as one line naming file, line and field path."""
    first = err.errors(include_url=False)[0]
    loc = _clean_loc(tuple(first["loc"]), set(union_tags))
    kind = first["type"]
    line = lines.line_of(loc) if lines else None
    where = f"{source}:{line}" if line else f"{source}"
    field_path = format_field_path(loc)
    message = first["msg"]
    if kind == "missing":
        detail = "required field is missing"
    elif kind == "extra_forbidden":
        detail = "unknown key (check the spelling; unknown keys are errors)"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        detail = f"{message[0].lower()}{message[1:]}"
    elif kind == "value_error":
        detail = message.removeprefix("Value error, ")
    else:
        detail = f"{message[0].lower()}{message[1:]}, found {_describe_found(first.get('input'))}"
    more = len(err.errors()) - 1
    suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {field_path}: {detail}{suffix}"
