"""Prompt templates: ``{field}`` placeholders over a spec's input fields.

Only ``{identifier}`` is a placeholder, so JSON examples in a rubric (``{"name": ...}``) need
no escaping; ``{{`` and ``}}`` give literal braces when a literal ``{word}`` is wanted.
Templates are checked against the input fields when the spec loads, not on item 1,000.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_fields(template: str) -> list[str]:
    """The placeholder names used in ``template``, in order of first use.

    >>> template_fields('Ticket: {text} / {{text}} / {"a": 1}')
    ['text']
    """
    seen: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name and name not in seen:
            seen.append(name)
    return seen


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Fill the placeholders of ``template`` from ``values``.

    Raises:
        KeyError: a placeholder has no value (the spec loader prevents this for specs).
    """

    def substitute(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return str(values[match.group(1)])

    return _PLACEHOLDER.sub(substitute, template)
