"""Read a rendered prompt back into the input fields it was rendered from.

``prompts.render_template`` fills ``{field}`` placeholders; this is its inverse for logs: the
template becomes a regular expression, literal text escaped, the first use of each field a named
group and every later use a back-reference to it, anchored at both ends. A role's system text and
prompt are matched together (joined by a separator no template holds), so a field used in both
must have the same value in both. A value may hold the template's own literal text, so one rendered
prompt can sometimes be split into fields in more than one way; such a prompt is found by matching
it twice, with the shortest and with the longest first values, and is reported as ambiguous
rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from distilleval.spec.prompts import template_pieces

# Joins the system text to the prompt text: a record separator, which a template cannot contain.
_JOIN = "\x1e"


def _group(field: str) -> str:
    return f"f_{field}"


def template_pattern(*templates: str, greedy: bool = False) -> re.Pattern[str]:
    """One pattern matching the texts rendered from ``templates``, joined by ``_JOIN`` (use ``fullmatch``).

    ``greedy`` makes each field take the longest value that still lets the rest match (default: the shortest).

    >>> template_pattern("Ticket: {text}!").fullmatch("Ticket: hi {there}!").group("f_text")
    'hi {there}'
    """
    parts: list[str] = []
    seen: set[str] = set()
    for index, template in enumerate(templates):
        if index:
            parts.append(re.escape(_JOIN))
        for text, is_field in template_pieces(template):
            if not is_field:
                parts.append(re.escape(text))
            elif text in seen:
                parts.append(f"(?P={_group(text)})")
            else:
                seen.add(text)
                parts.append(f"(?P<{_group(text)}>.*{'' if greedy else '?'})")
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class Recovered:
    """The field values read back from a prompt; ``ambiguous`` when another split renders the same text."""

    values: dict[str, str]
    ambiguous: bool = False


@dataclass(frozen=True)
class PromptTemplate:
    """A role's system text and prompt, ready to read rendered messages back into fields.

    Args:
        system: the role's system template ("" when it has none).
        prompt: the role's prompt template (the user message).
        fields: the input fields the role's templates may use (the spec's ``data.input``).
    """

    system: str
    prompt: str
    fields: tuple[str, ...]
    # The templates as patterns, set below: the fewest and the most characters to each field.
    _shortest: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _longest: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        templates = (self.system, self.prompt) if self.system else (self.prompt,)
        object.__setattr__(self, "_shortest", template_pattern(*templates))
        object.__setattr__(self, "_longest", template_pattern(*templates, greedy=True))

    def recover(self, system_text: str | None, user_text: str) -> Recovered | None:
        """The field values that render to exactly these messages, or None when none do.

        A field the templates never use comes back as ""; a system message where the template
        has none (or the other way round) is no match.
        """
        if bool(self.system) != (system_text is not None):
            return None
        text = f"{system_text}{_JOIN}{user_text}" if self.system else user_text
        shortest = self._shortest.fullmatch(text)
        if shortest is None:
            return None
        longest = self._longest.fullmatch(text)
        values = self._values(shortest)
        return Recovered(values, ambiguous=longest is None or self._values(longest) != values)

    def _values(self, match: re.Match[str]) -> dict[str, str]:
        found = match.groupdict()
        return {field: found.get(_group(field)) or "" for field in self.fields}
