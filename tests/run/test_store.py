"""The run store: one committed row per call, visible to other connections at once, resumable."""

import dataclasses
import sqlite3

from distilleval.run.runner import CallResult
from distilleval.run.store import RunStore


def _ok(item, model="teacher", **extra):
    return CallResult(item, model, 0, "ok", text="billing", input_tokens=640, output_tokens=2,
                      latency_ms=451.0, cost_usd=0.0032, **extra)


def test_rows_are_committed_as_they_are_added(tmp_path):
    store = RunStore(tmp_path / "run-1")
    store.add(_ok("a"))
    # A second connection (another process after a SIGKILL) sees the row without close().
    other = sqlite3.connect(tmp_path / "run-1" / "records.sqlite")
    assert other.execute("SELECT item_id, status, cost_usd FROM records").fetchall() == [("a", "ok", 0.0032)]
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_finished_keys_skip_ok_rows_but_not_errors(tmp_path):
    with RunStore(tmp_path / "r") as store:
        store.add(_ok("a"))
        store.add(_ok("a", model="student"))
        store.add(CallResult("b", "teacher", 0, "error", error_kind="timeout", error_message="slow", attempts=5))
        assert store.finished_keys() == {("a", "teacher", 0), ("a", "student", 0)}
        # The retried call replaces its error row: still one row per call.
        store.add(_ok("b"))
        assert len(store.results("teacher")) == 2
        assert store.finished_keys() == {("a", "teacher", 0), ("a", "student", 0), ("b", "teacher", 0)}
        # One role's only (a batch role's check holds no other role's keys).
        assert store.finished_keys("teacher") == {("a", "teacher", 0), ("b", "teacher", 0)}
        assert store.finished_keys("student") == {("a", "student", 0)}


def test_results_roundtrip_every_field(tmp_path):
    original = _ok("x", model="student", cache_hit=True, attempts=0)
    with RunStore(tmp_path / "r") as store:
        store.add(original)
    with RunStore(tmp_path / "r") as reopened:
        assert reopened.results() == [original]


def test_meta_holds_json(tmp_path):
    with RunStore(tmp_path / "r") as store:
        store.set_meta("spec_sha256", "abc")
        store.set_meta("models", {"teacher": "openai/t"})
        assert store.get_meta("models") == {"teacher": "openai/t"}
        assert store.get_meta("missing", 7) == 7


def test_prompt_cache_figures_and_finish_reason_roundtrip(tmp_path):
    original = _ok("x", cached_input_tokens=512, cache_write_tokens=64, finish_reason="length")
    with RunStore(tmp_path / "r") as store:
        store.add(original)
    with RunStore(tmp_path / "r") as reopened:
        assert reopened.results() == [original]


def test_a_store_written_before_the_prompt_cache_columns_still_opens(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    old = sqlite3.connect(run_dir / "records.sqlite")
    old.execute(
        "CREATE TABLE records (item_id TEXT NOT NULL, model TEXT NOT NULL, repeat INTEGER NOT NULL, status TEXT NOT NULL,"
        " text TEXT, error_kind TEXT, error_message TEXT, input_tokens INTEGER, output_tokens INTEGER, latency_ms REAL,"
        " cost_usd REAL NOT NULL, cache_hit INTEGER NOT NULL, attempts INTEGER NOT NULL, finished_at REAL NOT NULL,"
        " PRIMARY KEY (item_id, model, repeat))"
    )
    old.execute("INSERT INTO records VALUES ('a', 'teacher', 0, 'ok', 'billing', NULL, NULL, 640, 2, 451.0, 0.0032, 0, 1, 0)")
    old.commit()
    old.close()
    with RunStore(run_dir) as store:
        [row] = store.results()
    assert (row.text, row.input_tokens, row.cached_input_tokens, row.cache_write_tokens, row.finish_reason) == (
        "billing", 640, 0, 0, None)
    # It gained the confidence columns too: its old row has none, a new row keeps its own.
    assert (row.confidence, row.confidence_basis) == (None, None)
    with RunStore(run_dir) as store:
        store.add(CallResult("b", "teacher", 0, "ok", text="billing", confidence=0.75, confidence_basis="token_logprobs:mean"))
        assert [(r.item_id, r.confidence, r.confidence_basis) for r in store.results()] == [
            ("a", None, None), ("b", 0.75, "token_logprobs:mean")]


def test_cache_hits_are_committed_in_batches_and_before_anything_else(tmp_path, monkeypatch):
    monkeypatch.setattr("distilleval.run.store.HIT_BATCH", 3)
    store = RunStore(tmp_path / "r")
    other = sqlite3.connect(tmp_path / "r" / "records.sqlite")

    def committed():
        return other.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    store.add(_ok("a", cache_hit=True))
    store.add(_ok("b", cache_hit=True))
    assert committed() == 0  # a hit costs nothing to replay: no commit per row
    store.add(_ok("c", cache_hit=True))
    assert committed() == 3  # a full batch is one transaction
    store.add(_ok("d", cache_hit=True))
    store.add(_ok("e"))  # a paid-for call is committed at once, after the queued hit
    assert committed() == 5
    store.add(_ok("f", cache_hit=True))
    assert [r.item_id for r in store.results()] == ["a", "b", "c", "d", "e", "f"]  # reads see queued hits
    store.add(_ok("g", cache_hit=True))
    store.close()
    assert committed() == 7


def test_add_many_commits_every_row_in_one_go(tmp_path):
    store = RunStore(tmp_path / "run")
    store.add_many([_ok("a"), CallResult("b", "teacher", 0, "error", error_kind="expired", attempts=1), _ok("c")])
    other = sqlite3.connect(tmp_path / "run" / "records.sqlite")
    assert other.execute("SELECT item_id, status, error_kind FROM records ORDER BY item_id").fetchall() == [
        ("a", "ok", None), ("b", "error", "expired"), ("c", "ok", None)]
    assert store.finished_keys() == {("a", "teacher", 0), ("c", "teacher", 0)}


def test_a_damaged_store_is_one_line_and_left_as_it_is(tmp_path):
    import pytest

    from distilleval.run.store import RunStoreError

    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "records.sqlite").write_bytes(b"not a database at all\n" * 300)
    with pytest.raises(RunStoreError) as raised:
        RunStore(run_dir)
    message = str(raised.value)
    assert message.startswith(f"{run_dir / 'records.sqlite'}: the run store is damaged (file is not a database)")
    assert "\n" not in message
    assert (run_dir / "records.sqlite").read_bytes() == b"not a database at all\n" * 300


def test_a_store_with_a_damaged_page_fails_on_read_with_one_line(tmp_path):
    import pytest

    from distilleval.run.store import RunStoreError
    from tests.file_faults import damage_a_page

    with RunStore(tmp_path / "r") as store:
        for i in range(300):
            store.add(_ok(f"item-{i:04d}-" + "x" * 40))
    damage_a_page(tmp_path / "r" / "records.sqlite")
    with pytest.raises(RunStoreError, match="the run store is damaged"):
        with RunStore(tmp_path / "r") as store:
            store.results()


def test_an_unwritable_place_is_named(tmp_path):
    import pytest

    from distilleval.run.store import RunStoreError

    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(RunStoreError, match="cannot write the run store") as raised:
        RunStore(tmp_path / "file" / "run")
    assert "--runs-dir" in str(raised.value)


def test_the_identity_is_recorded_once_and_compared_after(tmp_path):
    identity = {"data": {"what": "the data file", "file": "d.jsonl", "sha256": "a" * 64}}
    with RunStore(tmp_path / "r") as store:
        assert store.check_identity(identity) is None
        assert store.check_identity(identity) is None
        changed = {"data": {"what": "the data file", "file": "d.jsonl", "sha256": "b" * 64}}
        assert store.check_identity(changed) == (
            "the data file d.jsonl changed since this run started (sha256 aaaaaaaaaaaa -> bbbbbbbbbbbb)")
        assert store.get_meta("identity") == identity  # the refusal records nothing


def test_the_model_version_a_provider_named_is_kept_and_an_older_store_gains_the_column(tmp_path):
    old = sqlite3.connect(tmp_path / "records.sqlite")  # a store written before the column existed
    old.execute("CREATE TABLE records (item_id TEXT NOT NULL, model TEXT NOT NULL, repeat INTEGER NOT NULL, "
                "status TEXT NOT NULL, text TEXT, error_kind TEXT, error_message TEXT, input_tokens INTEGER, "
                "output_tokens INTEGER, latency_ms REAL, cost_usd REAL NOT NULL, cache_hit INTEGER NOT NULL, "
                "attempts INTEGER NOT NULL, finished_at REAL NOT NULL, PRIMARY KEY (item_id, model, repeat))")
    old.execute("INSERT INTO records VALUES ('old', 'teacher', 0, 'ok', 'x', NULL, NULL, 1, 1, 1.0, 0.0, 0, 1, 0.0)")
    old.commit()
    old.close()
    with RunStore(tmp_path) as store:
        store.add(_ok("a", served_model="gpt-4.1-mini-2025-04-14 (fp_1)"))
        by_item = {r.item_id: r.served_model for r in store.results()}
    assert by_item == {"old": None, "a": "gpt-4.1-mini-2025-04-14 (fp_1)"}


def test_results_read_every_field_into_its_own_place(tmp_path):
    original = CallResult("item", "student", 2, "error", text="t", error_kind="timeout", error_message="slow",
                          input_tokens=11, output_tokens=13, latency_ms=17.5, cost_usd=0.19, cache_hit=False,
                          attempts=23, cached_input_tokens=29, cache_write_tokens=31, finish_reason="length",
                          served_model="m-37", confidence=0.41, confidence_basis="token_logprobs:mean")
    with RunStore(tmp_path / "r") as store:
        store.add(original)
        store.add(dataclasses.replace(original, item_id="hit", status="ok", cache_hit=True))
        read = store.results()
    assert read == [original, dataclasses.replace(original, item_id="hit", status="ok", cache_hit=True)]
    assert [type(result.cache_hit) for result in read] == [bool, bool]


def test_answer_latencies_are_the_made_answered_calls_of_one_model_in_order(tmp_path):
    rows = [
        CallResult("a", "teacher", 0, "ok", text="x", latency_ms=30.0),
        CallResult("b", "teacher", 0, "ok", text="x", latency_ms=10.0, cache_hit=True),  # a cache hit: not made
        CallResult("c", "teacher", 0, "error", error_kind="timeout", latency_ms=900.0),  # no answer
        CallResult("d", "teacher", 0, "ok", text="x"),  # no latency recorded
        CallResult("a", "student", 0, "ok", text="x", latency_ms=5.0),  # another model
        CallResult("e", "teacher", 1, "ok", text="x", latency_ms=20.0),  # a repeat counts
    ]
    with RunStore(tmp_path) as store:
        store.add_many(rows)
        expected = [r.latency_ms for r in store.results("teacher") if r.ok and not r.cache_hit and r.latency_ms is not None]
        assert list(store.answer_latencies("teacher")) == expected == [30.0, 20.0]
        assert list(store.answer_latencies("student")) == [5.0]
        assert list(store.answer_latencies("judge")) == []


def test_first_rows_are_the_first_results_as_plain_rows(tmp_path):
    with RunStore(tmp_path) as store:
        store.add(_ok("a", confidence=0.5, confidence_basis="class_probability"))
        store.add(CallResult("b", "teacher", 0, "error", error_kind="timeout", error_message="slow", attempts=2))
        store.add(dataclasses.replace(_ok("a"), repeat=1, text="second"))
        store.add(_ok("c", cache_hit=True))
        store.add(_ok("a", model="student"))
        wanted = ["c", "missing", "a", "b"]
        results = store.first_results("teacher", wanted)
        assert [row for row in store.first_rows("teacher", wanted)] == [
            dataclasses.astuple(dataclasses.replace(result, cache_hit=int(result.cache_hit))) for result in results]
        assert [result.item_id for result in results] == ["c", "a", "b"]
