"""The data's counts a run records: the report uses them, reading no data file, while the spec and data are the
run's own, and counts again when ``--spec`` names another spec or the data file changed."""

from __future__ import annotations

import shutil

import pytest

from distilleval.cli.main import main
from distilleval.report import data_counts
from distilleval.report.figures import compute_figures
from distilleval.report.sources import load_run
from distilleval.results.summary_json import read_summary, write_summary
from distilleval.spec import data
from tests.ticket_routing_fixture import FIXTURE_DIR


@pytest.fixture
def run_dir(tmp_path):
    """The ticket-routing run in its own folder, its summary carrying the counts the decision records."""
    from distilleval.pipeline.decision import _counts_to_record

    folder = tmp_path / "run"
    shutil.copytree(FIXTURE_DIR, folder)
    inputs = load_run(folder / "summary.json")
    recorded = _counts_to_record(compute_figures(inputs), inputs.spec)
    assert recorded is not None
    write_summary(inputs.summary.model_copy(update={"spec_data": recorded}), folder / "summary.json")
    return folder


def _report(run_dir, capsys, *args) -> str:
    assert main(["report", str(run_dir), "--format", "md", *args]) == 0
    return capsys.readouterr().out


def _calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    for module, name in ((data, "load_items"), (data_counts, "count_data")):
        real = getattr(module, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls


def test_the_report_from_recorded_counts_equals_the_counted_one_and_reads_no_data(run_dir, capsys, monkeypatch):
    bare = run_dir.parent / "bare"
    shutil.copytree(run_dir, bare)
    write_summary(read_summary(bare / "summary.json").model_copy(update={"spec_data": None}), bare / "summary.json")
    counted = _report(bare, capsys)
    assert "Teacher labelling" in counted and "estimated from the spec's prompts" in counted
    calls = _calls(monkeypatch)
    assert _report(run_dir, capsys) == counted.replace(str(bare), str(run_dir))
    assert calls == []
    # Not one record is parsed: only the file's bytes are hashed, to know it is the data counted.
    monkeypatch.setattr(data, "iter_records", lambda *a, **k: (_ for _ in ()).throw(AssertionError("parsed")))
    assert _report(run_dir, capsys) == counted.replace(str(bare), str(run_dir))


def test_the_figures_equal_with_recorded_and_counted_data(run_dir):
    inputs = load_run(run_dir / "summary.json")
    stored = compute_figures(inputs)
    assert stored.data_counted is None
    inputs.summary = inputs.summary.model_copy(update={"spec_data": None})
    counted = compute_figures(inputs)
    assert counted.data_counted is not None
    assert stored.one_time == counted.one_time and stored.one_time is not None
    assert stored.token_estimates == counted.token_estimates and len(stored.token_estimates) == 2


def test_another_spec_or_changed_data_is_counted_again(run_dir, capsys, monkeypatch):
    calls = _calls(monkeypatch)
    other = run_dir.parent / "other"
    shutil.copytree(run_dir, other)
    _report(run_dir, capsys, "--spec", str(other / "spec.yaml"))
    assert calls == ["load_items", "count_data"]
    calls.clear()
    lines = (run_dir / "data.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "data.jsonl").write_text("".join(lines[:-1]))
    _report(run_dir, capsys)
    assert calls == ["load_items", "count_data"]


def test_counts_recorded_for_another_spec_are_not_used(run_dir):
    inputs = load_run(run_dir / "summary.json")
    recorded = inputs.summary.spec_data
    assert data_counts.stored_counts(inputs.summary, inputs.spec, spec_given=False) == recorded
    assert data_counts.stored_counts(inputs.summary, inputs.spec, spec_given=True) is None
    other = inputs.summary.model_copy(update={"spec_data": recorded.model_copy(update={"spec_sha256": "0" * 64})})
    assert data_counts.stored_counts(other, inputs.spec, spec_given=False) is None


@pytest.fixture
def trained_run(tmp_path):
    """The run with a third of its data file made the training split and no ``labelled_examples``: the one-time
    cost counts each training row (the ``per row`` basis, the trainer's held-out rows left out)."""
    folder = tmp_path / "trained"
    shutil.copytree(FIXTURE_DIR, folder)
    lines = (folder / "data.jsonl").read_text().splitlines()
    (folder / "data.jsonl").write_text("".join(
        (line.replace('"split": "eval"', '"split": "train"') if n % 3 == 0 else line) + "\n"
        for n, line in enumerate(lines)))
    spec = folder / "spec.yaml"
    spec.write_text(spec.read_text().replace("training:\n  labelled_examples: 2000\n", ""))
    return folder


def test_training_rows_counted_in_one_pass_equal_counting_every_item(trained_run):
    from distilleval.backends.tinker.token_counts import spec_token_counters
    from distilleval.costs.estimates import count_spec_tokens, kept_training_tokens, spec_training_rows

    inputs = load_run(trained_run / "summary.json")
    spec = inputs.spec
    items = data.load_items(spec)
    whole = count_spec_tokens(spec, items, counters=spec_token_counters(spec))
    n_train, rows = spec_training_rows(spec, whole)
    assert n_train == 100 and rows is not None and len(rows) == n_train
    counted = data_counts.count_data(spec, items, data_counts.eval_limits(inputs.summary))
    assert counted.train_items == n_train and counted.kept_training_tokens == kept_training_tokens(rows)
    assert counted.training_row_tokens == whole.profiles(spec)["student"].training_row_tokens
    figures = compute_figures(inputs)
    assert figures.one_time is not None and "each of the 90 training rows" in figures.one_time.tokens_basis
    assert figures.one_time.training_tokens_per_epoch == kept_training_tokens(rows)


MULTI_SPEC = """name: multi
data: {path: data.jsonl, input: {question: question, context: context}, gold: answer, id: id, split: {column: split}}
output: {kind: label, labels: ["yes", "no"]}
scorer: exact_match
teacher:
  model: anthropic/claude-opus-4-6
  system: "You answer yes or no.\\nRules:\\n- be brief\\n- never explain\\n"
  prompt: "Question: {question}\\nContext: {context}\\nAnswer:"
student:
  model: openai/gpt-4o-mini
  prompt: "{question} | {context}"
"""


def _multi_spec(folder, spec_text: str = MULTI_SPEC):
    """A spec with a system rubric and two input fields over 40 items, repeated texts and answers among them."""
    import json

    from distilleval.spec.task_spec import load_spec

    folder.mkdir(exist_ok=True)
    rows = [{"id": f"q{n}", "question": f"Is {n % 7} odd?", "context": "numbers " * (n % 5) + "ünïcode ✓",
             "answer": "yes" if n % 2 else "no", "split": "eval" if n % 4 else "train"} for n in range(40)]
    (folder / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "spec.yaml").write_text(spec_text)
    return load_spec(folder / "spec.yaml")


def _per_item_counts(spec, items, limits):
    """What ``count_data`` must equal, counted item by item from the messages the runner sends."""
    from distilleval.backends.tinker.token_counts import spec_token_counters
    from distilleval.costs.estimates import gold_as_text
    from distilleval.costs.tokens import count_message_tokens, count_tokens
    from distilleval.spec.messages import build_messages

    counters = spec_token_counters(spec)

    def request(role, item):
        messages = build_messages(spec.models()[role], item, spec.data.image_inputs, embed_images=False)
        return counters[role].count_request(messages) if role in counters else count_message_tokens(messages)

    count_answer = counters["student"].count_answer if "student" in counters else count_tokens
    answers = [count_answer(gold_as_text(item.gold)) for item in items if item.gold is not None]
    eval_items = [item for item in items if item.split == "eval"]
    extra = counters["student"].training_row_extra if "student" in counters else 0
    return {
        "row": sum(request("student", item) for item in items) / len(items) + sum(answers) / len(answers) + extra,
        "eval": {role: sum(request(role, item) for item in eval_items[:limit]) for role, limit in limits.items()},
    }


@pytest.mark.parametrize("which", ["multi", "tiny", "ticket_routing"])
def test_counts_equal_counting_each_item_s_messages(which, tmp_path, tiny_spec_path):
    from distilleval.spec.task_spec import load_spec

    spec = _multi_spec(tmp_path / "multi") if which == "multi" else (
        load_spec(tiny_spec_path) if which == "tiny" else load_spec(FIXTURE_DIR.parents[2] / "specs" / which / "spec.yaml"))
    items = data.load_items(spec)
    for limits in ({"teacher": 3, "student": 1_000}, {"teacher": 1_000, "student": 0}):
        counted = data_counts.count_data(spec, items, limits)
        expected = _per_item_counts(spec, items, limits)
        assert counted.training_row_tokens == pytest.approx(expected["row"], rel=1e-12)
        assert {role: c.total for role, c in counted.eval_input_tokens.items()} == expected["eval"]


def test_the_counts_key_changes_with_each_thing_that_decides_the_counts(tmp_path, monkeypatch):
    from distilleval.backends.tinker import token_counts
    from distilleval.costs.tokens import TokenCounter

    spec = _multi_spec(tmp_path / "a")
    limits = {"teacher": 10, "student": 40}
    key = data_counts.counts_key(spec, limits, "d" * 64)
    assert key == data_counts.counts_key(_multi_spec(tmp_path / "same"), dict(reversed(limits.items())), "d" * 64)
    changed = {
        "data": data_counts.counts_key(spec, limits, "e" * 64),
        "prompt": data_counts.counts_key(_multi_spec(tmp_path / "b", MULTI_SPEC.replace("Answer:", "Reply:")), limits, "d" * 64),
        "system": data_counts.counts_key(_multi_spec(tmp_path / "c", MULTI_SPEC.replace("be brief", "be short")), limits, "d" * 64),
        "limits": data_counts.counts_key(spec, {"teacher": 11, "student": 40}, "d" * 64),
    }
    monkeypatch.setattr(data_counts, "COUNTING_VERSION", data_counts.COUNTING_VERSION + 1)
    changed["code"] = data_counts.counts_key(spec, limits, "d" * 64)
    monkeypatch.undo()
    counter = TokenCounter("another tokenizer", lambda messages: 1, lambda text: 1)
    monkeypatch.setattr(token_counts, "spec_token_counters", lambda spec: {"student": counter})
    changed["counter"] = data_counts.counts_key(spec, limits, "d" * 64)
    assert len({key, *changed.values()}) == 1 + len(changed), changed


def test_a_spec_with_image_inputs_has_no_counts_key():
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(FIXTURE_DIR.parents[2] / "specs" / "receipt_extraction" / "spec.yaml")
    assert data_counts.counts_key(spec, {"teacher": 1}, "d" * 64) is None


def test_earlier_counts_are_found_by_their_key_only(run_dir, tmp_path):
    recorded = read_summary(run_dir / "summary.json").spec_data
    assert recorded is not None
    runs = tmp_path / "runs"
    for name, key in (("older", "k1"), ("newer", "k2"), ("bare", None)):
        shutil.copytree(run_dir, runs / name)
        summary = read_summary(runs / name / "summary.json")
        counts = None if key is None else recorded.model_copy(update={"counted_with": key, "items": len(name)})
        write_summary(summary.model_copy(update={"spec_data": counts}), runs / name / "summary.json")
    (runs / "damaged").mkdir()
    (runs / "damaged" / "summary.json").write_text("{")
    assert data_counts.earlier_counts(runs, "k1").items == len("older")
    assert data_counts.earlier_counts(runs, "k2").items == len("newer")
    assert data_counts.earlier_counts(runs, "k3") is None
    assert data_counts.earlier_counts(tmp_path / "absent", "k1") is None
