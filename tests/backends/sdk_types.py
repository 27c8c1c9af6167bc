"""Check a JSON body against an official SDK's request TypedDict, rejecting any field the SDK does not declare.

pydantic validates TypedDicts but lets unknown keys through (and refuses a ``config`` for them),
so this walks the SDK's type hints itself: a TypedDict's keys must be declared ones, its
required keys present; unions, literals, lists and scalars are checked all the way down.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any

from typing_extensions import is_typeddict

_WRAPPERS = {"Required", "NotRequired", "ReadOnly", "Annotated"}


def _unwrap(tp: Any) -> Any:
    while getattr(typing.get_origin(tp), "_name", None) in _WRAPPERS or getattr(tp, "__origin__", None) is typing.Annotated or (
        type(tp).__name__ in ("_AnnotatedAlias",)
    ):
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    if origin is not None and getattr(origin, "_name", None) in _WRAPPERS:
        return _unwrap(typing.get_args(tp)[0])
    return tp


def problems(value: Any, tp: Any, path: str = "body") -> list[str]:
    """Every way ``value`` breaks ``tp`` (an SDK TypedDict or a type inside one); [] when it conforms."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return []
    if origin is typing.Union or origin is types.UnionType:
        found = [problems(value, option, path) for option in typing.get_args(tp)]
        return [] if any(not f for f in found) else min(found, key=len)
    if origin is typing.Literal:
        return [] if value in typing.get_args(tp) else [f"{path}: {value!r} is not one of {typing.get_args(tp)}"]
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({tp.__name__}), found {type(value).__name__}"]
        hints = typing.get_type_hints(tp, include_extras=True)
        found = [f"{path}.{key}: not a field of {tp.__name__}" for key in value if key not in hints]
        found += [f"{path}.{key}: required by {tp.__name__}" for key in getattr(tp, "__required_keys__", ()) if key not in value]
        for key, item in value.items():
            if key in hints:
                found += problems(item, hints[key], f"{path}.{key}")
        return found
    if origin in (list, tuple, collections.abc.Iterable, collections.abc.Sequence) or (
        origin is not None and getattr(origin, "__name__", "") == "SequenceNotStr"
    ):
        if not isinstance(value, list):
            return [f"{path}: expected a list, found {type(value).__name__}"]
        (inner,) = typing.get_args(tp)[:1] or (Any,)
        return [p for index, item in enumerate(value) for p in problems(item, inner, f"{path}[{index}]")]
    if origin in (dict, collections.abc.Mapping) or tp in (dict, typing.Dict):
        return [] if isinstance(value, dict) else [f"{path}: expected an object"]
    if tp is None or tp is type(None):
        return [] if value is None else [f"{path}: expected null"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, found {value!r}"]
    if tp is float:
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: expected a number"]
    if tp is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, found {type(value).__name__}"]
    if isinstance(tp, type) and hasattr(tp, "model_validate"):
        try:
            tp.model_validate(value)
        except Exception as err:  # pydantic ValidationError
            return [f"{path}: {str(err).splitlines()[0]}"]
        return []
    return []  # a type the SDK uses for values we never send (files, binary): not ours to judge
