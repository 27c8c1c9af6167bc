"""What every stage takes: its spec (a loaded ``TaskSpec``, or the path of its YAML file) and where its
progress lines go (``Say``: nowhere by default; the commands pass ``print``)."""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike, fspath
from typing import TYPE_CHECKING, TypeAlias, Union

if TYPE_CHECKING:
    from distilleval.spec.task_spec import TaskSpec

SpecArg: TypeAlias = Union["TaskSpec", str, "PathLike[str]"]
"""What every stage accepts as its spec."""

Say: TypeAlias = Callable[[str], None]
"""Where a stage sends a progress or warning line while it works."""


def silent(line: str) -> None:
    """A ``Say`` that drops the line: a library call prints nothing unless asked to."""


def as_spec(spec: SpecArg) -> tuple[TaskSpec, str]:
    """The spec, loaded when given as a path, and the name messages call it by (the path as given, else
    the file it was loaded from).

    Raises:
        SpecError: the file is not a valid spec (file, line, field).
    """
    from distilleval.spec.task_spec import TaskSpec, load_spec

    if isinstance(spec, TaskSpec):
        return spec, str(spec.source)
    path = fspath(spec)
    return load_spec(path), path
