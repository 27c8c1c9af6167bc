"""Prompt templates: only {identifier} is a placeholder; {{ and }} are literal braces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distilleval.spec.prompts import render_template, template_fields


def test_json_examples_are_not_placeholders():
    template = 'Example: {"label": "billing", "n": 0}\nMessage: {text}'
    assert template_fields(template) == ["text"]
    assert render_template(template, {"text": "hi"}) == 'Example: {"label": "billing", "n": 0}\nMessage: hi'


def test_doubled_braces_are_literal():
    assert template_fields("{{text}} {text}") == ["text"]
    assert render_template("{{text}} {text}", {"text": "x"}) == "{text} x"


def test_missing_value_is_a_key_error():
    with pytest.raises(KeyError):
        render_template("{body}", {"text": "x"})


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=50))
def test_values_are_inserted_verbatim_even_with_braces(value):
    # A message that itself contains "{text}" must not be expanded again.
    assert render_template("<{text}>", {"text": value + "{text}"}) == f"<{value}{{text}}>"


def _render_by_regex(template: str, values: dict[str, str]) -> str:
    # The plain one-pass substitution render_template replaced with parsed, cached pieces.
    import re

    def substitute(match: re.Match) -> str:
        token = match.group(0)
        return {"{{": "{", "}}": "}"}.get(token) or values[match.group(1)]

    return re.sub(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}", substitute, template)


@given(st.lists(st.sampled_from(["{", "}", "{{", "}}", "{a}", "{b}", "{a", "b}", "x", "\n", " ", "{1}", "{ a}"]), max_size=20))
def test_rendering_from_cached_pieces_equals_one_regex_pass(parts):
    class Values(dict):
        def __missing__(self, name: str) -> str:
            return f"<{name}{{x}}>"

    template = "".join(parts)
    values = Values(a="A{b}", b="}B{")
    assert render_template(template, values) == _render_by_regex(template, values)


def test_the_format_string_renders_as_render_template():
    from distilleval.spec.prompts import format_string

    values = {"text": 'a "q" {x} {{y}} ☃\n', "n": 12, "f": 3.5, "none": None, "flag": True, "data": {"k": [1]}}
    for template in ("{text}", "Literal {{text}} and {\"json\": [1]} then {text}/{n}/{f}/{none}/{flag}/{data}", "",
                     "}} only {{"):
        assert format_string(template).format_map(values) == render_template(template, values)
