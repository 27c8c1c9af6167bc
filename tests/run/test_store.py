"""The run store: one committed row per call, visible to other connections at once, resumable."""

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
