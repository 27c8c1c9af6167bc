"""`distilleval estimate`: token counts measured from the spec's rendered prompts."""

from __future__ import annotations

import json

from distilleval.cli.main import main
from distilleval.costs.tokens import count_message_tokens, count_tokens
from distilleval.spec.data import load_items
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import load_spec


def test_estimate_counts_the_rendered_prompts(tiny_spec_path, capsys):
    assert main(["estimate", str(tiny_spec_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    teacher_counts = [count_message_tokens(build_messages(spec.teacher, item)) for item in items]
    student_counts = [count_message_tokens(build_messages(spec.student, item)) for item in items]
    assert report["items"] == 6
    assert report["profiles"]["teacher"]["input_tokens"]["total"] == sum(teacher_counts)
    assert report["profiles"]["student"]["input_tokens"]["total"] == sum(student_counts)
    # The rubric is what the student no longer pays for.
    rubric_tokens = count_tokens(spec.teacher.prompt_text.replace("{text}", ""))
    assert sum(teacher_counts) - sum(student_counts) >= 6 * (rubric_tokens - 10)
    assert report["compression"] > 3
    assert report["labelling"]["items"] == 3  # the train split stands in for a pool
    assert report["eval_run"]["teacher_usd"] > report["eval_run"]["student_usd"] > 0


def test_estimate_markdown_mentions_compression_and_spend(tiny_spec_path, capsys):
    assert main(["estimate", str(tiny_spec_path)]) == 0
    out = capsys.readouterr().out
    assert "fewer input tokens than the teacher" in out
    assert "Label the pool with the teacher" in out
    assert "Claude Opus 4.6" in out


def test_message_overhead_matches_openai_accounting():
    # 3 tokens per message + 3 to prime the reply.
    assert count_message_tokens([{"role": "user", "content": "billing"}]) == count_tokens("billing") + 6
