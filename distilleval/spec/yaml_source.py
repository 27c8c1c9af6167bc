"""Load YAML while remembering the line of every key, so errors can point at it.

``load_yaml_with_lines`` returns the plain data plus a ``LineIndex`` that maps a field path
such as ``("teacher", "model")`` to the 1-based line where that key (or list item) sits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from distilleval.errors import DistillevalError


@dataclass
class LineIndex:
    """Field path -> 1-based line number in the source file."""

    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, path: tuple) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def _index_node(node: yaml.Node, path: tuple, index: LineIndex) -> None:
    index.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index.lines[path + (key,)] = key_node.start_mark.line + 1
            _index_node(value_node, path + (key,), index)
            index.lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index_node(item, path + (position,), index)


def load_yaml_with_lines(path: Path, error_class: type[DistillevalError]) -> tuple[Any, LineIndex]:
    """Read and parse a YAML file.

    Raises:
        error_class: the file is missing, unreadable, empty or not valid YAML; the message
            names the file and, for syntax errors, the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error_class(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error_class(f"{path}: cannot read file ({err.__class__.__name__}: {err})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise error_class(f"{path}{where}: not valid YAML ({problem})") from None
    if node is None or data is None:
        raise error_class(f"{path}: the file is empty; expected a YAML mapping")
    index = LineIndex()
    _index_node(node, (), index)
    return data, index
