"""`distilleval iterate` end to end: an offline run whose training split lacks a class the eval
split has; a scripted teacher on the local OpenAI-compatible server writes and labels new
inputs; the loop raises that class's recall and the accuracy (paired, with its interval),
stops by itself, keeps eval near-duplicates out of training, and pays for nothing twice."""

import json
from collections import Counter

import pytest

from distilleval.cli.main import main
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from distilleval.testing.scripted_generator import generation_request, scripted_teacher
from distilleval.training.near_duplicates import nearest

VOCAB = {
    "billing": ["invoice", "charged twice", "billing statement", "payment declined", "subscription fee", "tax on my bill"],
    "shipping": ["package", "delivery", "tracking number", "courier", "shipment delayed", "parcel"],
    "technical": ["app crashes", "error code", "cannot log in", "screen freezes", "software bug", "update failed"],
    "refund": ["refund", "money back", "reimburse", "refund request", "refunded", "want my money returned"],
}
FILLERS = ["hello team,", "urgent:", "quick question about the", "hi, about my", "please help with the",
           "good morning, my", "again the"]
OBJECTS = ["blender", "winter jacket", "headphones", "desk lamp", "coffee grinder", "running shoes", "backpack",
           "phone case", "kettle", "yoga mat", "monitor stand"]
EVAL_PER_CLASS = 15
TRAIN_PER_CLASS = 30
PER_CLASS = 12


def ticket(label: str, i: int) -> str:
    words = VOCAB[label]
    return f"{FILLERS[i % 7]} {words[i % 6]} {OBJECTS[i % 11]} {words[(i // 6 + 1) % 6]} ({label[0]}{i})"


def classify(text: str) -> str:
    """The scripted teacher's labels: the class whose words the text uses (refund first)."""
    for label in ("refund", "billing", "shipping", "technical"):
        if any(word in text for word in VOCAB[label]):
            return label
    return "billing"


EVAL_TEXT_COPIED = ticket("refund", 3)  # the generator "writes" this eval item, barely changed


def write_new(label: str, round_number: int, i: int) -> str:
    if label == "refund" and i == 0:
        return EVAL_TEXT_COPIED.upper() + "!"  # a near-duplicate of an eval item
    words = VOCAB[label]
    return (f"customer {round_number}{i}: {words[(i * 5 + round_number) % 6]} for the {OBJECTS[(i * 7 + 3) % 11]}, "
            f"{['thanks', 'asap', 'as promised', 'per policy', 'since last week', 'twice now'][i % 6]} "
            f"{words[(i + 2) % 6]} #{i * 37 % 101}")


def label_prompt(prompt: str) -> str:
    return classify(prompt.split("Ticket: ", 1)[1])


def write_spec(tmp_path, base_url, *, iterate_block="  per_class: 12\n"):
    rows = []
    for label in ("billing", "shipping", "technical"):
        rows += [{"id": f"tr-{label}-{i}", "message": ticket(label, i), "label": label, "split": "train"}
                 for i in range(EVAL_PER_CLASS, EVAL_PER_CLASS + TRAIN_PER_CLASS)]
    for label in VOCAB:
        rows += [{"id": f"ev-{label}-{i}", "message": ticket(label, i), "label": label, "split": "eval"}
                 for i in range(EVAL_PER_CLASS)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "spec.yaml").write_text(f"""\
name: routing
description: Route a customer ticket to the team that owns it.
data:
  path: data.jsonl
  input: {{text: message}}
  gold: label
  id: id
  split: {{column: split}}
output:
  kind: label
  labels: [billing, shipping, technical, refund]
teacher:
  model: openai/teacher
  prompt: "Route the ticket to billing, shipping, technical or refund.\\nTicket: {{text}}"
  api_base: {base_url}
  fast_path: true
  price_as: openai/gpt-4.1-mini
  max_tokens: 8
student:
  model: tinker://run/sampler_weights/final
  prompt: "{{text}}"
baselines: [tfidf_logreg]
gates:
  non_inferiority_margin: 0.03
iterate:
{iterate_block}""")
    return tmp_path / "spec.yaml"


@pytest.fixture
def server():
    with OpenAIServer() as running:
        running.script("teacher", ModelScript(answer=scripted_teacher(write=write_new, label_of=label_prompt)))
        yield running


def offline_run(tmp_path, spec) -> str:
    runs = tmp_path / "runs"
    assert main(["run", str(spec), "--offline", "--runs-dir", str(runs)]) == 0
    (run_dir,) = [path.parent for path in runs.glob("*/summary.json")]
    return str(run_dir)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_generated_examples_of_a_missing_class_raise_its_recall_and_the_loop_stops(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url)
    run_dir = offline_run(tmp_path, spec)
    capsys.readouterr()

    assert main(["iterate", run_dir, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert server.log == []  # the estimate calls nothing
    assert "round 2: weak classes refund (no training rows)" in dry
    estimated = float(dry.split("estimated at most $")[1].split(" ")[0])

    assert main(["iterate", run_dir]) == 0
    document = json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "iterate.json").read_text())
    first, second = document["rounds"][:2]
    # Round 1: the class is absent from training, so the student never says it.
    assert first["result"]["recall"]["refund"]["recall"] == 0.0
    assert [w["label"] for w in second["weak_classes"]] == ["refund"]
    assert second["added_per_label"] == {"refund": PER_CLASS - 1}  # 12 written, 1 an eval near-duplicate
    assert second["generated"] == {"kept": PER_CLASS - 1, "near_duplicate_of_eval": 1}
    # Round 2: refund recall up from 0 and accuracy up, paired on the same 60 items, the
    # interval of the score test excluding no change.
    refund = second["result"]["recall"]["refund"]
    assert refund["recall"] >= 0.8 and refund["interval"][0] > 0
    change = second["result"]["change"]
    assert second["result"]["accuracy"] > first["result"]["accuracy"]
    assert change["estimate"] == pytest.approx(second["result"]["accuracy"] - first["result"]["accuracy"])
    assert change["interval"][0] > 0 and change["p_value"] < 0.05 and change["lost"] == 0
    assert change["gained"] == second["result"]["correct"] - first["result"]["correct"]
    # The loop stopped by itself, before max_rounds.
    assert "max_rounds" not in document["stopped"]
    assert len(document["rounds"]) < 4
    # Costs: what the round's 1 generation call and 11 labelling calls cost at the table's
    # price, within the estimate made before any call.
    assert second["cost"]["calls"] == 1 + PER_CLASS - 1
    assert 0 < second["cost"]["total_usd"] <= estimated
    assert second["cost"]["paid_now_usd"] == pytest.approx(second["cost"]["total_usd"])
    report = (tmp_path / "runs" / run_dir.split("/")[-1] / "iterate.md").read_text()
    assert "| 2 | 101 | 11 |" in report and "Stopped: " in report and "refund" in report


def test_near_duplicates_of_eval_items_never_reach_the_training_file(tmp_path, server):
    spec = write_spec(tmp_path, server.base_url)
    run_dir = offline_run(tmp_path, spec)
    assert main(["iterate", run_dir]) == 0
    from pathlib import Path

    folder = Path(run_dir) / "round-2"
    training = [row["message"] for row in read_jsonl(folder / "training.jsonl")]
    evals = [row["message"] for row in read_jsonl(tmp_path / "data.jsonl") if row["split"] == "eval"]
    assert EVAL_TEXT_COPIED.upper() + "!" not in training
    assert max(match.similarity for match in nearest(training, evals)) < 0.9
    # The same rows in the short format `distilleval train --data` takes: the student's prompt, then the label.
    short = read_jsonl(folder / "labels.jsonl")
    assert [row["messages"][0]["content"] for row in short] == training
    assert [row["messages"][-1] for row in short][-1]["role"] == "assistant"
    labels = {row["message"]: row["label"] for row in read_jsonl(folder / "training.jsonl")}
    assert all(labels[row["messages"][0]["content"]] == row["messages"][1]["content"] for row in short)
    dropped = [row for row in read_jsonl(folder / "generated.jsonl") if row.get("status") == "near_duplicate_of_eval"]
    assert [row["of"] for row in dropped] == ["ev-refund-3"] and dropped[0]["similarity"] >= 0.9


def test_a_killed_round_resumes_without_paying_twice(tmp_path, server, monkeypatch):
    spec = write_spec(tmp_path, server.base_url)
    run_dir = offline_run(tmp_path, spec)
    import distilleval.training.teacher as teacher

    real = teacher.run_teacher

    def half_then_killed(spec, items, **kwargs):
        real(spec, items[: len(items) // 2], **kwargs)  # half of the labels paid, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(teacher, "run_teacher", half_then_killed)
    assert main(["iterate", run_dir]) == 130
    paid_before = len(server.requests_for("teacher", "ok"))
    assert paid_before == 1 + (PER_CLASS - 1) // 2
    monkeypatch.setattr(teacher, "run_teacher", real)
    assert main(["iterate", run_dir]) == 0
    prompts = Counter(request.prompt for request in server.requests_for("teacher", "ok"))
    assert max(prompts.values()) == 1  # no answer asked for twice
    assert sum(1 for prompt in prompts if generation_request(prompt)) == 1
    assert len(prompts) == 1 + PER_CLASS - 1
    # Once finished, running again reads the rounds back and calls nothing.
    before = len(server.log)
    document = (tmp_path / "runs").glob("*/iterate.json")
    first = next(document).read_text()
    assert main(["iterate", run_dir]) == 0
    assert len(server.log) == before
    assert json.loads(next((tmp_path / "runs").glob("*/iterate.json")).read_text())["rounds"] == json.loads(first)["rounds"]


def test_a_round_that_gains_less_than_the_margin_stops_the_loop(tmp_path):
    # A teacher whose new "refund" inputs share nothing with the eval items: the class stays at 0.
    def unhelpful(label, round_number, i):
        return f"zq{round_number}x{i} " + " ".join(f"w{(i * 13 + k * 7) % 97}v{k}" for k in range(6))

    with OpenAIServer() as server:
        server.script("teacher", ModelScript(answer=scripted_teacher(
            write=unhelpful, label_of=lambda prompt: "refund" if "zq" in prompt else label_prompt(prompt))))
        run_dir = offline_run(tmp_path, write_spec(tmp_path, server.base_url))
        assert main(["iterate", run_dir]) == 0
    document = json.loads(next((tmp_path / "runs").glob("*/iterate.json")).read_text())
    assert len(document["rounds"]) == 2
    assert document["rounds"][1]["added"] == PER_CLASS
    assert document["rounds"][1]["result"]["change"]["estimate"] < 0.03
    assert document["stopped"].startswith("round 2 gained") and "0.0300" in document["stopped"]


def test_the_spend_limit_stops_before_a_round_it_cannot_afford(tmp_path, server):
    spec = write_spec(tmp_path, server.base_url, iterate_block="  per_class: 12\n  spend_limit_usd: 0.0001\n")
    run_dir = offline_run(tmp_path, spec)
    assert main(["iterate", run_dir]) == 0
    document = json.loads(next((tmp_path / "runs").glob("*/iterate.json")).read_text())
    assert server.log == [] and len(document["rounds"]) == 1
    assert document["stopped"].startswith("spend limit: round 2 could cost up to $")


def test_rounds_do_not_depend_on_the_order_of_the_data_rows(tmp_path, server):
    import random

    def rounds_of(folder):
        spec = write_spec(folder, server.base_url)
        if folder.name == "shuffled":
            lines = (folder / "data.jsonl").read_text().splitlines(keepends=True)
            random.Random(7).shuffle(lines)
            (folder / "data.jsonl").write_text("".join(lines))
        run_dir = offline_run(folder, spec)
        assert main(["iterate", run_dir]) == 0
        document = json.loads(next((folder / "runs").glob("*/iterate.json")).read_text())
        for record in document["rounds"]:
            record.pop("fingerprint")
        return document["rounds"], document["stopped"]

    (tmp_path / "filed").mkdir()
    (tmp_path / "shuffled").mkdir()
    assert rounds_of(tmp_path / "filed") == rounds_of(tmp_path / "shuffled")


def test_raising_max_rounds_continues_the_loop_from_the_kept_rounds(tmp_path, server):
    # Stopped at max_rounds 2; raised to 3, the loop reads rounds 1-2 back (the stop rules are
    # not part of what a round is made of), asks nothing again, and round 3 finds no weak class.
    spec = write_spec(tmp_path, server.base_url, iterate_block="  per_class: 12\n  max_rounds: 2\n")
    run_dir = offline_run(tmp_path, spec)
    assert main(["iterate", run_dir]) == 0
    first = json.loads(next((tmp_path / "runs").glob("*/iterate.json")).read_text())
    assert first["stopped"] == "max_rounds (2) reached"
    asked = len(server.log)
    assert asked == 1 + PER_CLASS - 1
    spec.write_text(spec.read_text().replace("  max_rounds: 2\n", "  max_rounds: 3\n  min_gain: 0.05\n"))
    assert main(["iterate", run_dir, "--spec", str(spec)]) == 0
    document = json.loads(next((tmp_path / "runs").glob("*/iterate.json")).read_text())
    assert document["rounds"] == first["rounds"] and document["min_gain"] == 0.05
    assert document["stopped"].startswith("no weak class")
    assert len(server.log) == asked
