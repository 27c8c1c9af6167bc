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
