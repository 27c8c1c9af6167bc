"""Tests for distilleval.results.item_results (and the item store behind it): per-item rows live in
SQLite beside summary.json, are read back exactly, and version-1 summaries still read."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from distilleval.costs.pricing import load_pricing
from distilleval.errors import DataError
from distilleval.results import item_results
from distilleval.results.build import ModelOutput, ModelRun
from distilleval.results.summary_json import ItemResult, read_summary, write_summary
from distilleval.run.store import RunStore
from tests.results.test_build import summarize, write_spec
from tests.ticket_routing_fixture import SUMMARY_PATH, load_fixture


def _outputs(items, model_seed: int) -> list[ModelOutput]:
    """Varied outputs: right, wrong, failed, cut at max_tokens, cache hits, with and without confidence."""
    outputs = []
    for n, item in enumerate(items):
        k = (n + model_seed) % 6
        if k == 0:
            outputs.append(ModelOutput(item.id, None, error_kind="timeout"))
        else:
            text = item.gold if k in (1, 2, 3) else ("neg" if item.gold == "pos" else "pos")
            outputs.append(ModelOutput(item.id, text, latency_ms=10.0 + n if k != 2 else None, cache_hit=k == 2,
                                       finish_reason="length" if k == 4 else "stop",
                                       confidence=0.5 + n / (4 * len(items)) if k != 3 else None,
                                       input_tokens=20, output_tokens=2))
    return outputs


def _summary(tmp_path, n_items: int):
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec, items = write_spec(tmp_path, ["pos" if n % 3 else "neg" for n in range(n_items)])
    runs = [ModelRun("teacher", "teacher", "t", _outputs(items, 0)),
            ModelRun("student", "student", "s", _outputs(items, 1)),
            ModelRun("bow", "baseline", "b", _outputs(items, 3)[: n_items // 2])]  # half missing
    return summarize(spec, items, runs, pricing=load_pricing(), run_id=f"r{n_items}", mode="offline", n_resamples=50)


def _in_memory_figures(summary, models):
    """What every accessor returns, from whichever source ``summary`` has."""
    return {model: (item_results.item_scores(summary, model), item_results.failed_ids(summary, model),
                    item_results.judge_passes(summary, model), item_results.latency_samples(summary, model, limit=7),
                    item_results.latency_samples(summary, model), item_results.has_outputs(summary, model),
                    item_results.gold_and_outputs(summary, model))
            for model in models} | {"ids": item_results.item_ids(summary)}


def test_a_written_summary_keeps_its_items_in_sqlite_and_reads_them_back_exactly(tmp_path):
    summary = _summary(tmp_path, 60)
    write_summary(summary, tmp_path / "run" / "summary.json")
    raw = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "items" not in raw and raw["schema_version"] == 2
    assert raw["item_store"]["path"] == "summary.items.sqlite" and raw["item_store"]["rows"] == 60
    again = read_summary(tmp_path / "run")
    assert again.items == []
    assert list(item_results.iter_items(again)) == summary.items
    models = ["teacher", "student", "bow", "absent"]
    assert _in_memory_figures(again, models) == _in_memory_figures(summary, models)
    assert item_results.failed_ids(again, "teacher") and item_results.latency_samples(again, "student", limit=3)


def test_fields_present_as_none_and_absent_fields_round_trip(tmp_path):
    fixture = load_fixture()
    fixture.items = [
        ItemResult(id="a", gold=None, input_preview="x", scores={"m": None}, outputs={"m": None, "n": "y"},
                   latency_ms={"n": None}, confidence={"m": None}, reached_max_tokens=["n"]),
        ItemResult(id="b", gold='{"k": 1}', scores={"n": 0.25}, errors={"m": "timeout"}, reasons={"n": "wrong"}),
        ItemResult(id="c"),
    ]
    write_summary(fixture, tmp_path / "summary.json")
    again = read_summary(tmp_path / "summary.json")
    assert [item.model_dump() for item in item_results.iter_items(again)] == [i.model_dump() for i in fixture.items]
    assert item_results.item_scores(again, "m") == {"a": None}
    assert item_results.has_outputs(again, "n") and not item_results.has_outputs(again, "z")


@pytest.mark.parametrize("n_items", [50, 500])
def test_summary_json_size_does_not_grow_with_the_items(tmp_path, n_items):
    write_summary(_summary(tmp_path, n_items), tmp_path / "run" / "summary.json")
    size = (tmp_path / "run" / "summary.json").stat().st_size
    assert size <= 12_000
    # 10x the items changes the file only by the digits of its counts and figures.
    reference = _summary(tmp_path / "ref", 50) if n_items != 50 else None
    if reference is not None:
        write_summary(reference, tmp_path / "ref" / "summary.json")
        assert abs(size - (tmp_path / "ref" / "summary.json").stat().st_size) < 400


def test_a_run_folder_keeps_the_items_in_its_run_store(tmp_path):
    RunStore(tmp_path / "run").close()
    summary = _summary(tmp_path, 12)
    write_summary(summary, tmp_path / "run" / "summary.json")
    assert not (tmp_path / "run" / "summary.items.sqlite").exists()
    again = read_summary(tmp_path / "run")
    assert Path(again.item_store.path).name == "records.sqlite"
    assert list(item_results.iter_items(again)) == summary.items
    with sqlite3.connect(tmp_path / "run" / "records.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM item_rows").fetchone() == (12,)


def test_a_rewrite_replaces_the_rows_and_an_interrupted_one_leaves_the_old_summary_whole(tmp_path, monkeypatch):
    path = tmp_path / "run" / "summary.json"
    first, second = _summary(tmp_path / "a", 10), _summary(tmp_path / "b", 14)
    write_summary(first, path)
    write_summary(second, path)
    with sqlite3.connect(tmp_path / "run" / "summary.items.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM item_sets").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM item_rows").fetchone() == (14,)

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("distilleval.results.summary_json.write_text_atomic", fail)
    with pytest.raises(OSError):
        write_summary(first, path)
    again = read_summary(path)
    assert again.run_id == second.run_id and list(item_results.iter_items(again)) == second.items


def test_a_summary_whose_rows_were_not_copied_is_one_line_error(tmp_path):
    write_summary(_summary(tmp_path, 5), tmp_path / "run" / "summary.json")
    (tmp_path / "run" / "summary.items.sqlite").unlink()
    again = read_summary(tmp_path / "run")
    with pytest.raises(DataError, match="per-item results are missing") as err:
        list(item_results.iter_items(again))
    assert "\n" not in str(err.value)


def test_a_version_1_summary_is_read_from_its_items():
    assert json.loads(SUMMARY_PATH.read_text())["schema_version"] == 1
    old = read_summary(SUMMARY_PATH)
    assert old.schema_version == 1 and len(old.items) == old.n_items == 300 and old.item_store is None
    assert list(item_results.iter_items(old)) == old.items
    scores = item_results.item_scores(old, "student")
    # The fixture's student is wrong or unanswered on 24 items (``failures`` lists them), one of them a failed call.
    assert len(scores) == 300 and sum(1 for v in scores.values() if v == 1.0) == 300 - 24
    assert item_results.failed_ids(old, "student") == {"t0057"} and scores["t0057"] is None


def test_a_version_1_summary_rewritten_moves_its_items_and_reads_the_same(tmp_path):
    old = load_fixture()
    write_summary(old, tmp_path / "summary.json")
    new = read_summary(tmp_path / "summary.json")
    assert new.schema_version == 2 and new.items == []
    models = list(old.models)
    assert _in_memory_figures(new, models) == _in_memory_figures(old, models)


def _paired_from_dicts(a, a_model, b, b_model):
    from distilleval.gate.paired import paired_scores

    return paired_scores(item_results.item_scores(a, a_model), item_results.item_scores(b, b_model))


@pytest.mark.parametrize(("a_model", "b_model"), [("teacher", "student"), ("bow", "student"), ("student", "bow"),
                                                  ("teacher", "absent")])
def test_paired_scores_from_sqlite_equal_pairing_the_dicts(tmp_path, a_model, b_model):
    # Failed calls (every 6th item, shifted per model) and the items bow lacks are left out, as the dicts leave them.
    summary = _summary(tmp_path, 60)
    stored = write_summary(summary, tmp_path / "run" / "summary.json")
    # The second run holds the same items in another order: the pairing is on the id, sorted.
    shuffled = summary.model_copy(update={"items": list(reversed(summary.items))[:50]})
    other = write_summary(shuffled, tmp_path / "other" / "summary.json")
    for a, b in ((stored, stored), (stored, other), (other, stored), (summary, other)):
        expected = _paired_from_dicts(a, a_model, b, b_model)
        got = item_results.paired_item_scores(a, a_model, b, b_model)
        assert all(side.dtype == float for side in got)
        if a is b:  # 0/1 scores of one run: the same pairs, in eval order
            assert sorted(zip(*got)) == sorted(zip(*expected)) and len(got[0]) == len(expected[0])
        else:
            assert [list(side) for side in got] == [list(side) for side in expected]
    if a_model != "absent" and b_model != "absent":
        assert len(_paired_from_dicts(stored, a_model, other, b_model)[0]) > 10


def test_paired_scores_of_two_sets_of_one_file_are_joined_on_the_id(tmp_path):
    from distilleval.results.item_store import write_items

    summary = _summary(tmp_path, 30)
    stored = write_summary(summary, tmp_path / "run" / "summary.json")
    path = stored.item_store_path()
    set_id, _ = write_items(path, "later.json", list(reversed(summary.items)))
    later = stored.model_copy(update={"item_store": stored.item_store.model_copy(update={"set_id": set_id})})
    expected = _paired_from_dicts(stored, "teacher", summary, "student")
    got = item_results.paired_item_scores(stored, "teacher", later, "student")
    assert [list(side) for side in got] == [list(side) for side in expected] and len(got[0]) > 5


def test_fractional_scores_of_one_run_are_paired_in_item_id_order(tmp_path):
    summary = _summary(tmp_path, 40)
    for n, item in enumerate(summary.items):
        for model in item.scores:
            if item.scores[model] is not None:
                item.scores[model] = (n * 7 % 11) / 10 if model == "teacher" else (n * 3 % 5) / 4
    stored = write_summary(summary, tmp_path / "run" / "summary.json")
    expected = _paired_from_dicts(summary, "teacher", summary, "student")
    got = item_results.paired_item_scores(stored, "teacher", stored, "student")
    assert [list(side) for side in got] == [list(side) for side in expected] and len(got[0]) > 20


def test_statistics_of_paired_0_1_scores_do_not_depend_on_their_order():
    # Why one run's 0/1 pairs may come in eval order: every figure drawn from them is a function of the counts.
    import numpy as np

    from distilleval.gate.paired import compare_paired_as_tested, non_inferiority_test
    from distilleval.results.families import two_sided_p_value
    from distilleval.results.statistics import compare_paired

    rng = np.random.default_rng(7)
    for n in (12, 300):
        a = (rng.random(n) < 0.8).astype(float)
        b = np.where(rng.random(n) < 0.15, 1.0 - a, a)
        order = rng.permutation(n)
        assert compare_paired("a", "b", a, b, margin=0.05) == compare_paired("a", "b", a[order], b[order], margin=0.05)
        assert compare_paired_as_tested(a, b, alpha=0.05) == compare_paired_as_tested(a[order], b[order], alpha=0.05)
        assert non_inferiority_test(a, b, margin=0.05, alpha=0.05) == non_inferiority_test(
            a[order], b[order], margin=0.05, alpha=0.05)
        assert two_sided_p_value(a, b) == two_sided_p_value(a[order], b[order])
        # And the arrays give what the lists gave.
        assert compare_paired_as_tested(a, b, alpha=0.05) == compare_paired_as_tested(a.tolist(), b.tolist(), alpha=0.05)
