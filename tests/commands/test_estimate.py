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


PROJECTION_SPEC = """\
name: routing
data:
  path: data.jsonl
  input: {text: message}
  gold: label
  split: {column: split}
output:
  kind: label
  labels: [billing, shipping, technical]
teacher:
  model: openai/gpt-5.2
  prompt: "Route this ticket to billing, shipping or technical: {text}"
student:
  model: tinker://placeholder/sampler_weights/final
  prompt: "{text}"
training:
  base_model: Qwen/Qwen3-8B
"""


def test_estimate_projects_the_training_the_trainer_then_runs(tmp_path, monkeypatch, capsys):
    # The projection must call the trainer's recipe on the trainer's row count and price the trainer's
    # own tokens at the base model's rate: then `train` against the Tinker double reports the same run.
    pytest.importorskip("tinker")
    from distilleval.testing.fake_tinker import FakeServiceClient

    labels = ["billing", "shipping", "technical"]
    rows = [
        {"message": f"ticket {i}: " + "my parcel is late " * (i % 7), "label": labels[i % 3], "split": "train"}
        for i in range(300)
    ] + [{"message": f"eval ticket {i}", "label": labels[i % 3], "split": "eval"} for i in range(10)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(PROJECTION_SPEC)
    spec = load_spec(spec_path)
    # The training file as `distilleval label` writes it: the student's turns, then the label.
    with (tmp_path / "train.jsonl").open("w") as handle:
        for item in load_items(spec):
            if item.split == "train":
                turns = [*build_messages(spec.student, item), {"role": "assistant", "content": item.gold}]
                handle.write(json.dumps({"messages": turns}) + "\n")

    assert main(["estimate", str(spec_path), "--format", "json"]) == 0
    projected = json.loads(capsys.readouterr().out)["training"]

    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    out = tmp_path / "out"
    from distilleval.cli.main import build_parser
    from distilleval.commands import train

    args = build_parser().parse_args(["train", str(spec_path), "--data", str(tmp_path / "train.jsonl"), "--out", str(out)])
    assert train.run(args, service_factory=FakeServiceClient) == 0
    manifest = json.loads((out / "manifest.json").read_text())

    # 300 rows, 30 held out: batch 128 -> 16 and 4 -> 6 epochs for the cookbook's 100 steps.
    assert (projected["train_rows"], projected["batch_size"], projected["epochs"], projected["steps"]) == (270, 16, 6, 102)
    assert (manifest["recipe"]["batch_size"], manifest["recipe"]["epochs"], manifest["recipe"]["steps"]) == (16, 6, 102)
    assert projected["tokens_basis"] == "per row"
    assert projected["trained_tokens"] == manifest["tokens"]["trained_tokens"]
    assert projected["price_as"] == manifest["training_cost"]["price_as"] == "Qwen/Qwen3-8B"
    assert projected["cost_usd"] == pytest.approx(manifest["training_cost"]["cost_usd"], rel=1e-12)


def test_a_cache_share_anthropic_would_not_give_is_dropped_with_a_note(tiny_spec_path, tmp_path, capsys):
    # The tiny spec's Opus 4.6 teacher has its rubric in the prompt, no system block to mark: Anthropic
    # would cache nothing, so the spec's 50% must not lower the projected teacher cost.
    import shutil

    folder = tmp_path / "tiny"
    shutil.copytree(tiny_spec_path.parent, folder)
    spec_path = folder / "spec.yaml"
    spec_path.write_text(spec_path.read_text().replace("traffic:\n", "traffic:\n  cached_input_fraction: 0.5\n"))
    assert main(["estimate", str(spec_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cached_input_share"]["teacher"] == 0.0
    assert "not applied to anthropic/claude-opus-4-6: the teacher has no system rubric" in report["cache_share_dropped"]
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.costs.pricing import load_pricing

    profile = report["profiles"]["teacher"]
    uncached = request_cost_usd(
        load_pricing().price_for("anthropic/claude-opus-4-6"), profile["input_tokens"]["mean"], profile["output_tokens"]["mean"]
    )
    assert report["cost_per_request_usd"]["teacher"] == pytest.approx(uncached, rel=1e-12)
    assert main(["estimate", str(spec_path)]) == 0
    assert "Prompt cache: the spec's traffic.cached_input_fraction (50%) is not applied" in capsys.readouterr().out


def test_estimate_says_whether_the_eval_split_can_show_non_inferiority(tiny_spec_path, capsys):
    from distilleval.results.sample_size import items_for_power, power

    assert main(["estimate", str(tiny_spec_path), "--format", "json"]) == 0
    sizing = json.loads(capsys.readouterr().out)["eval_sizing"]
    # The tiny spec sets no margin (0.03 is judged) and no discordance (0.10 assumed, half each way).
    needed = items_for_power(0.05, 0.05, margin=0.03, alpha=0.05).items
    assert (sizing["eval_items"], sizing["items_needed"], sizing["enough"]) == (3, needed, False)
    assert sizing["power"] == pytest.approx(power(3, 0.05, 0.05, margin=0.03, alpha=0.05))
    assert "differ in correctness on 10% of items (decision.assumed_discordance)" in sizing["assumption"]
    assert main(["estimate", str(tiny_spec_path), "--assumed-discordance", "0.02"]) == 0
    out = capsys.readouterr().out
    fewer = items_for_power(0.01, 0.01, margin=0.03, alpha=0.05).items
    assert f"The eval split (3 items) is too small to show non-inferiority: {fewer:,} paired items are needed" in out


@pytest.mark.parametrize("value", ["0", "1.5", "nan", "lots"])
def test_estimate_refuses_a_discordance_outside_0_to_1(tiny_spec_path, capsys, value):
    with pytest.raises(SystemExit) as caught:  # an argparse error, before the spec is read
        main(["estimate", str(tiny_spec_path), "--assumed-discordance", value])
    assert caught.value.code == 2
    assert "argument --assumed-discordance: expected a" in capsys.readouterr().err


def test_estimate_prices_the_judges_calls_on_their_own_line_and_in_the_eval_total(tmp_path, capsys):
    from distilleval.costs.cost_model import format_usd
    from tests.pipeline.test_judging import N_ITEMS, write_judge_spec

    spec = write_judge_spec(tmp_path / "task", "http://127.0.0.1:9/v1", pairwise=True)
    assert main(["estimate", str(spec), "--offline", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    judge, eval_run = report["judge"], report["eval_run"]
    assert (judge["grading"]["calls"], judge["pairwise"]["calls"], judge["alignment"]["calls"]) == (
        2 * N_ITEMS, 2 * N_ITEMS, 40)
    assert judge["eval_calls"] == 4 * N_ITEMS + 40
    assert eval_run["judge_usd"] == judge["eval_usd"] > 0
    assert eval_run["total_usd"] == pytest.approx(eval_run["teacher_usd"] + eval_run["student_usd"] + judge["eval_usd"])
    assert report["align_run"] == {"calls": 40, "cost_usd": judge["align_usd"]}
    assert "gold answer" in judge["answer_basis"] and "max_tokens (256)" in judge["output_basis"]
    assert main(["estimate", str(spec), "--offline"]) == 0
    out = capsys.readouterr().out
    judge_line = next(line for line in out.splitlines() if line.startswith("| Eval run: judge"))
    assert "openai/judge-m (80 grading, 80 pairwise, 40 alignment)" in judge_line
    assert judge_line.rstrip(" |").endswith(format_usd(judge["eval_usd"]))
    total_line = next(line for line in out.splitlines() if line.startswith("| Eval run: total"))
    assert total_line.rstrip(" |").endswith(format_usd(eval_run["total_usd"]))
    align_line = next(line for line in out.splitlines() if line.startswith("| Align run: judge"))
    assert align_line.rstrip(" |").endswith(format_usd(judge["align_usd"]))
    assert "Judge calls priced as openai/gpt-4.1-mini at standard rates" in out


def test_estimate_of_a_spec_without_a_judge_has_no_judge_figures(tiny_spec_path, capsys):
    assert main(["estimate", str(tiny_spec_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["judge"] is None and report["align_run"] is None and report["eval_run"]["judge_usd"] is None
    assert report["eval_run"]["total_usd"] == pytest.approx(report["eval_run"]["teacher_usd"]
                                                            + report["eval_run"]["student_usd"])
def test_estimate_flags_stale_prices_as_cost_does(tiny_spec_path, capsys):
    # The bundled table's prices are from 2026-02-01: with a limit of 0 days both commands flag them.
    assert main(["cost", str(tiny_spec_path), "--max-price-age-days", "0"]) == 0
    (cost_note,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Stale prices")]
    assert main(["estimate", str(tiny_spec_path), "--max-price-age-days", "0"]) == 0
    assert cost_note in capsys.readouterr().out.splitlines()
    assert main(["estimate", str(tiny_spec_path), "--max-price-age-days", "0", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["stale_price_note"] == cost_note
    assert main(["estimate", str(tiny_spec_path), "--max-price-age-days", "100000"]) == 0
    assert "Stale" not in capsys.readouterr().out
