"""`distilleval estimate`: token counts measured from the spec's rendered prompts."""

from __future__ import annotations

import json

import pytest

from distilleval.backends.tinker.token_counts import student_token_counter
from distilleval.cli.main import main
from distilleval.costs.tokens import LOCAL_TOKENIZER, count_message_tokens, count_tokens
from distilleval.spec.data import load_items
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import load_spec


def test_estimate_counts_the_rendered_prompts(tiny_spec_path, capsys):
    assert main(["estimate", str(tiny_spec_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    teacher_counts = [count_message_tokens(build_messages(spec.teacher, item)) for item in items]
    # The Tinker student is counted with its base model's own tokenizer and chat template.
    student_counter = student_token_counter(spec)
    student_counts = [student_counter.count_request(build_messages(spec.student, item)) for item in items]
    assert report["items"] == 6
    assert report["profiles"]["teacher"]["input_tokens"]["total"] == sum(teacher_counts)
    assert report["profiles"]["student"]["input_tokens"]["total"] == sum(student_counts)
    # The rubric is what the student no longer pays for.
    rubric_tokens = count_tokens(spec.teacher.prompt_text.replace("{text}", ""))
    assert sum(teacher_counts) - sum(student_counts) >= 6 * (rubric_tokens - 10)
    assert report["compression"] == pytest.approx(sum(teacher_counts) / sum(student_counts))
    assert report["tokenizer"] == {"teacher": LOCAL_TOKENIZER, "student": "Qwen/Qwen3-8B tokenizer and chat template"}
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


def test_estimate_prices_a_spec_that_never_trains_on_tinker(tmp_path, capsys):
    # No tinker model and no training: block, priced with a table that has no tinker/lora entry:
    # estimate used to fail with "model 'tinker/lora' has no price".
    (tmp_path / "data.jsonl").write_text(
        "".join(json.dumps({"id": f"i{i}", "text": f"t{i}", "gold": "a", "split": s}) + "\n"
                for i, s in enumerate(["train", "eval"] * 2))
    )
    (tmp_path / "prices.yaml").write_text(
        "as_of: 2026-02-01\nmodels:\n"
        "  openai/gpt-5.2: {display_name: GPT-5.2, input: 1.75, output: 14.0, source: test, as_of: 2026-02-01}\n"
        "  openai/gpt-4.1-mini: {display_name: GPT-4.1-mini, input: 0.4, output: 1.6, source: test, as_of: 2026-02-01}\n"
    )
    (tmp_path / "spec.yaml").write_text(
        "name: no_tinker\ndata: {path: data.jsonl, input: {text: text}, gold: gold, id: id, split: {column: split}}\n"
        "output: {kind: label, labels: [a, b]}\n"
        'teacher: {model: openai/gpt-5.2, prompt: "Label: {text}"}\nstudent: {model: openai/gpt-4.1-mini, prompt: "{text}"}\n'
        "pricing: prices.yaml\n"
    )
    assert main(["estimate", str(tmp_path / "spec.yaml")]) == 0
    out = capsys.readouterr().out
    assert "GPT-4.1-mini" in out and "One-time cost and break-even not computed" in out
    assert main(["estimate", str(tmp_path / "spec.yaml"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["one_time_cost_usd"] is None
    # A training: block that names an unpriced model is still an error.
    with (tmp_path / "spec.yaml").open("a") as handle:
        handle.write("training: {price_as: tinker/lora}\n")
    assert main(["estimate", str(tmp_path / "spec.yaml")]) == 2
    assert "'tinker/lora' has no price" in capsys.readouterr().err


def test_estimate_refuses_a_base_model_tinker_no_longer_serves(tiny_spec_path, tmp_path, capsys):
    import shutil

    folder = tmp_path / "spec"
    shutil.copytree(tiny_spec_path.parent, folder)
    spec = folder / tiny_spec_path.name
    assert "training:" not in spec.read_text()
    text = spec.read_text() + "\ntraining: {base_model: Qwen/Qwen3-VL-30B-A3B-Instruct}\n"
    spec.write_text(text)
    line = len(text.rstrip("\n").splitlines())
    assert main(["estimate", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"distilleval estimate: error: {spec}:{line}: training.base_model: "
                          "'Qwen/Qwen3-VL-30B-A3B-Instruct' is not a base model Tinker serves")
    assert "as of 2026-12-01" in err and "Qwen/Qwen3.6-35B-A3B" in err and len(err.splitlines()) == 1
