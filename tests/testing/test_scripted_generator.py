"""The scripted teacher for `iterate`: generation prompts get the written lines, others a label."""

from distilleval.spec.iterate_settings import DEFAULT_GENERATION_PROMPT
from distilleval.spec.prompts import render_template
from distilleval.testing.scripted_generator import generation_request, scripted_teacher


def test_default_prompt_is_recognised_and_answered_line_by_line():
    prompt = render_template(DEFAULT_GENERATION_PROMPT, {"task": "t", "labels": "a, b", "label": "b", "examples": "-",
                                                         "n": "3", "round": "2", "format": "one per line"})
    assert generation_request(prompt) == ("b", 2, 3)
    teacher = scripted_teacher(write=lambda label, r, i: f"{label}{r}-{i}", label_of=lambda prompt: "a")
    assert teacher(prompt) == "1. b2-0\n2. b2-1\n3. b2-2"
    assert teacher("Ticket: anything") == "a" and generation_request("Ticket: anything") is None
