"""The generation prompt and the reading of the teacher's reply."""

from pathlib import Path

from distilleval.spec.iterate_settings import IterateSpec
from distilleval.spec.task_spec import load_spec
from distilleval.testing.scripted_generator import generation_request
from distilleval.training.generation import generated_item, generation_call, generation_prompt, parse_generated


def spec_with_fields(tmp_path: Path, fields: str):
    (tmp_path / "d.jsonl").write_text('{"a": "x", "b": "y", "label": "p"}\n')
    (tmp_path / "s.yaml").write_text(f"""\
name: t
description: Sort notes.
data: {{path: d.jsonl, input: {fields}, gold: label}}
output: {{kind: label, labels: [p, q]}}
teacher: {{model: openai/x, prompt: "{{a}}"}}
student: {{model: openai/y, prompt: "{{a}}"}}
""")
    return load_spec(tmp_path / "s.yaml")


def test_default_prompt_shows_class_examples_count_and_round(tmp_path):
    spec = spec_with_fields(tmp_path, "{a: a}")
    prompt = generation_prompt(spec, IterateSpec(), label="q", examples=[{"a": "first\n  missed"}], n=7, round_number=3)
    assert "Task: Sort notes." in prompt and "Possible answers: p, q." in prompt
    assert "- first missed" in prompt  # one line per example
    assert generation_request(prompt) == ("q", 3, 7)
    assert "one input per line" in prompt
    call = generation_call(spec, IterateSpec(per_class=7), prompt, label="q", n=7, round_number=3)
    assert call.item_id == "round-3/generate/q" and call.request.max_tokens == 7 * 80
    assert call.request.temperature == 1.0 and call.request.messages[0]["content"] == prompt


def test_several_input_fields_ask_for_json_lines(tmp_path):
    spec = spec_with_fields(tmp_path, "{a: a, b: b}")
    prompt = generation_prompt(spec, IterateSpec(), label="p", examples=[], n=2, round_number=2)
    assert 'exactly the keys "a", "b"' in prompt and "(none: the training data has no input of this class)" in prompt
    reply = '{"a": "one", "b": "two"}\nnot json\n{"a": "only a"}\n```\n{"a": " x ", "b": "y"}'
    parsed = parse_generated(reply, ["a", "b"])
    assert parsed.inputs == [{"a": "one", "b": "two"}, {"a": "x", "b": "y"}] and parsed.unreadable == 2


def test_single_field_replies_lose_numbering_bullets_and_quotes():
    reply = "1. first one\n2) second\n- third\n* \u201cfourth\u201d\n\n(5) fifth\n   \n'sixth'"
    assert [i["text"] for i in parse_generated(reply, ["text"]).inputs] == [
        "first one", "second", "third", "fourth", "fifth", "sixth"]


def test_generated_ids_are_content_hashes():
    assert generated_item({"text": "a"}).id == generated_item({"text": "a"}).id != generated_item({"text": "b"}).id
    assert generated_item({"text": "a"}).id.startswith("gen-") and generated_item({"text": "a"}).split == "train"
