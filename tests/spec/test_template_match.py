"""Reading a rendered prompt back into its fields: the inverse of ``render_template``."""

import pytest

from distilleval.spec.prompts import render_template
from distilleval.spec.template_match import PromptTemplate, template_pattern

SYSTEM = "You route tickets for {product}. Answer with one label."
PROMPT = "Subject: {subject}\nBody: {body}\n(product again: {product}) {{literal}}"
FIELDS = ("product", "subject", "body")


@pytest.mark.parametrize(
    "values",
    [
        {"product": "Acme", "subject": "refund", "body": "I was charged twice"},
        # The trap: values holding the template's own literal text and braces must still split right.
        {"product": "A{b}c", "subject": "Body: {body}", "body": "line 1\n(product again: no)\nline 3 {{x}}"},
        {"product": "", "subject": "", "body": ""},
    ],
)
def test_recover_gives_back_exactly_the_rendered_values(values):
    template = PromptTemplate(system=SYSTEM, prompt=PROMPT, fields=FIELDS)
    recovered = template.recover(render_template(SYSTEM, values), render_template(PROMPT, values))
    assert recovered.values == values and not recovered.ambiguous


def test_a_prompt_that_splits_two_ways_is_ambiguous_not_guessed():
    # "Body: x" inside the subject: "Subject: Body: y\nBody: x\nBody: z" splits after either "Body: ".
    template = PromptTemplate(system="", prompt="Subject: {subject}\nBody: {body}", fields=("subject", "body"))
    recovered = template.recover(None, "Subject: a\nBody: b\nBody: c")
    assert recovered.ambiguous
    assert not template.recover(None, "Subject: a\nBody: b c").ambiguous


def test_a_field_used_twice_must_hold_the_same_value_both_times():
    template = PromptTemplate(system=SYSTEM, prompt=PROMPT, fields=FIELDS)
    values = {"product": "Acme", "subject": "s", "body": "b"}
    system = render_template(SYSTEM, {**values, "product": "Other"})
    assert template.recover(system, render_template(PROMPT, values)) is None


def test_changed_text_or_a_missing_system_message_is_no_match():
    template = PromptTemplate(system=SYSTEM, prompt=PROMPT, fields=FIELDS)
    values = {"product": "Acme", "subject": "s", "body": "b"}
    user = render_template(PROMPT, values)
    assert template.recover(None, user) is None
    assert template.recover(render_template(SYSTEM, values).replace("route", "sort"), user) is None
    assert template.recover(render_template(SYSTEM, values), user + " ") is None


def test_pattern_is_anchored_at_both_ends():
    assert template_pattern("Ticket: {text}").fullmatch("Ticket: a") is not None
    assert template_pattern("Ticket: {text}").fullmatch("xTicket: a") is None
