"""Load YAML while remembering the line of every key, so errors can point at it.

``load_yaml_with_lines`` returns the plain data plus a ``LineIndex`` that maps a field path
such as ``("teacher", "model")`` to the 1-based line where that key (or list item) sits.

The loader refuses what no real spec or pricing table needs and what would otherwise exhaust
time or memory: a file over ``max_bytes``, nesting deeper than ``MAX_DEPTH`` levels, more
than ``max_values`` values once aliases are expanded (an alias bomb), an alias inside the
container it names, and a key given twice in one mapping (the second would silently win).
A byte-order mark at the start is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from distilleval.errors import DistillevalError

MAX_YAML_BYTES = 1 << 20
"""Largest file read by default (1 MiB: a spec is a few kilobytes; long prompts belong in prompt files)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists, aliases expanded."""
MAX_EXPANDED_NODES = 20_000
"""Most values (scalars, mappings, lists) a document may hold by default, aliases expanded."""


FieldPath = tuple[str | int, ...]
"""Where a value is in a document: mapping keys and list positions, outermost first."""


@dataclass
class LineIndex:
    """Field path -> 1-based line number in the source file."""

    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


class _Refused(Exception):
    """The document breaks one of the loader's limits; ``line`` is 1-based."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that measures every node as it is composed (aliases expanded) and
    refuses duplicate keys, so nothing large or ambiguous reaches the constructor."""

    def __init__(self, stream: str, max_values: int):
        super().__init__(stream)
        self._max_values = max_values
        self._depth = 0
        self._expanded = 0  # values composed so far, an alias counting as everything it stands for
        # id(node) -> (expanded node count, expanded depth); the nodes stay alive in the tree.
        self._measure: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        is_alias = self.check_event(yaml.AliasEvent)
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(line, f"nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        measure = self._measure.get(id(node))
        if measure is None:
            if is_alias:
                raise _Refused(line, "an alias refers to the mapping or list that contains it")
            children = node.value if isinstance(node, yaml.SequenceNode) else (
                [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else []
            )
            sizes = [self._measure[id(child)] for child in children]
            measure = (1 + sum(size for size, _ in sizes), 1 + max((depth for _, depth in sizes), default=0))
            self._measure[id(node)] = measure
        size, depth = measure
        self._expanded += size if is_alias else 1
        if self._expanded > self._max_values:
            raise _Refused(line, f"more than {self._max_values:,} values (aliases expanded)")
        if self._depth + depth > MAX_DEPTH:
            raise _Refused(line, f"nested more than {MAX_DEPTH} levels deep once aliases are expanded")
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first_line:
                raise _Refused(line, f"{key_node.value}: duplicate key (first on line {first_line[key_node.value]})")
            first_line[key_node.value] = line
        return node


def _index_node(node: yaml.Node, path: FieldPath, index: LineIndex) -> None:
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


_FLOW_DELIMITERS = "[]{},"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')
_LONGEST_QUOTED_EXAMPLE = 60


def _value_at(line: str, column: int, *, in_flow: bool) -> str:
    """The value the parser stopped in: the flow item around ``column`` (between ``[ ] { } ,``),
    or in block style everything after the line's ``key:`` / ``-`` (a trailing comment dropped);
    empty when ``column`` is not inside a value."""
    if in_flow:
        start, end = column, column
        while start > 0 and line[start - 1] not in _FLOW_DELIMITERS:
            start -= 1
        while end < len(line) and line[end] not in _FLOW_DELIMITERS:
            end += 1
        item = line[start:end].strip()
        key, separator, value = item.partition(": ")
        return value.strip() if separator and not key.startswith(("'", '"')) else item
    start = len(line) - len(line.lstrip())
    while line.startswith("- ", start) or line.startswith("-\t", start):
        start = len(line) - len(line[start + 1:].lstrip())
    colon = line.find(": ", start)
    if colon >= 0 and not line.startswith(("'", '"', "?"), start):
        start = colon + 2 + len(line[colon + 2:]) - len(line[colon + 2:].lstrip())
    if column < start:
        return ""
    value = line[start:]
    comment = value.find(" #")
    return (value[:comment] if comment >= 0 else value).strip()


def quote_hint(text: str, line: int, column: int) -> str:
    """What to add to a YAML syntax error that stopped inside a value: to quote it.

    A value that starts with a character YAML reads as syntax (``? - @ ` % * & ! | > [ {``),
    holds ``": "``, or (in a ``[...]`` list) ends in ``?``, is not plain text to YAML; in quotes
    it is. ``line`` and ``column`` are 0-based, as in PyYAML's marks.

    >>> quote_hint("labels: [a, maybe?, b]", 0, 17)
    '; if maybe? is text, quote it: "maybe?"'
    >>> quote_hint("prompt: ? what", 0, 8)
    '; if ? what is text, quote it: "? what"'
    >>> quote_hint("name: [unclosed", 1, 0)
    ''
    """
    import json

    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return ""
    before = _QUOTED.sub("", lines[line][:column])  # a bracket in quotes opens no flow list
    in_flow = before.count("[") + before.count("{") > before.count("]") + before.count("}")
    value = _value_at(lines[line], column, in_flow=in_flow)
    if not value:
        return ""
    if len(value) > _LONGEST_QUOTED_EXAMPLE:
        return "; if the value on this line is text, quote it (in double quotes)"
    return f"; if {value} is text, quote it: {json.dumps(value, ensure_ascii=False)}"


def _read_bounded(path: Path, error_class: type[DistillevalError], max_bytes: int) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise error_class(f"{path}: file not found") from None
    except OSError as err:
        raise error_class(f"{path}: cannot read file ({err.__class__.__name__}: {err})") from None
    if len(raw) > max_bytes:
        raise error_class(f"{path}: file too large (over {max_bytes:,} bytes, the limit for this kind of file)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise error_class(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None


def load_yaml_with_lines(
    path: Path,
    error_class: type[DistillevalError],
    *,
    max_bytes: int = MAX_YAML_BYTES,
    max_values: int = MAX_EXPANDED_NODES,
) -> tuple[Any, LineIndex]:
    """Read and parse a YAML file within the limits in the module doc.

    Args:
        path: the file.
        error_class: the exception raised for every problem (``SpecError``, ``PricingError``).
        max_bytes: a larger file is refused before it is parsed.
        max_values: a document with more values than this, aliases expanded, is refused.

    Raises:
        error_class: the file is missing, unreadable, too large, empty, not valid YAML, or
            breaks a limit (nesting, alias expansion, duplicate key); the message names the
            file and, where there is one, the line.
    """
    text = _read_bounded(path, error_class, max_bytes)
    loader = None
    try:
        loader = _BoundedLoader(text, max_values)  # checks the characters first: may raise already
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _Refused as err:
        raise error_class(f"{path}:{err.line}: {err}") from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        raise error_class(f"{path}:{line}: not valid YAML (character {err.character:#06x} is not allowed)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        hint = quote_hint(text, mark.line, mark.column) if mark is not None else ""
        raise error_class(f"{path}{where}: not valid YAML ({problem}){hint}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None or data is None:
        raise error_class(f"{path}: the file is empty; expected a YAML mapping")
    index = LineIndex()
    _index_node(node, (), index)
    return data, index
