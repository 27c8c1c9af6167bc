"""evaluate: a fully cached re-run needs no provider SDK, no key and no server; row order moves no figure."""

import json
import os
import random
import subprocess
import sys

from distilleval.cli.main import main
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_eval import REPO_ROOT, write_spec

PROVIDER_MODULES = ("litellm", "openai", "anthropic", "google.genai", "tinker", "httpx", "sklearn", "scipy")


def test_a_fully_cached_rerun_imports_no_provider_sdk(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="billing")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6)  # both roles through LiteLLM
        cache = tmp_path / "cache.sqlite"
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "first"), "--cache", str(cache)]) == 0
    # The server is gone and no key is set: every answer must come from the cache.
    script = (
        "import json, sys\n"
        "from distilleval.cli.main import main\n"
        f"status = main(['eval', {str(spec)!r}, '--runs-dir', {str(tmp_path / 'again')!r}, '--cache', {str(cache)!r}])\n"
        f"print(json.dumps({{'status': status, 'loaded': [m for m in {PROVIDER_MODULES!r} if m in sys.modules]}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"status": 0, "loaded": []}
    [run_dir] = list((tmp_path / "again").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {role: summary["models"][role]["cache_hits"] for role in ("teacher", "student")} == {"teacher": 6, "student": 6}


def test_a_role_with_a_miss_is_called_and_the_cached_role_is_not(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="billing")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 4, fast_path=True)
        cache = tmp_path / "cache.sqlite"
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "first"), "--cache", str(cache), "--models", "teacher"]) == 0
        server.clear_log()
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "second"), "--cache", str(cache)]) == 0
        assert {r.model for r in server.log} == {"student-m"} and len(server.log) == 4


def _store_rows(runs_dir):
    """Each run store row's answer and measured figures, by call (the fields a cache hit replays)."""
    import sqlite3

    [run_dir] = list(runs_dir.iterdir())
    with sqlite3.connect(run_dir / "records.sqlite") as db:
        rows = db.execute(
            "SELECT item_id, model, repeat, status, text, error_kind, input_tokens, output_tokens, latency_ms, "
            "cached_input_tokens, cache_write_tokens, finish_reason, confidence, confidence_basis, cost_usd, cache_hit, "
            "attempts FROM records ORDER BY item_id, model").fetchall()
    return {row[:3]: row[3:] for row in rows}


def test_a_fully_cached_rerun_calls_nothing_and_stores_the_first_runs_answers(tmp_path, monkeypatch):
    # Small chunks, so the re-run's hits go through several bulk look-ups and a resumed gap is crossed.
    monkeypatch.setattr("distilleval.pipeline.eval_calls.FIRST_CHUNK_ITEMS", 2)
    monkeypatch.setattr("distilleval.pipeline.eval_calls.MAX_CHUNK_ITEMS", 4)
    scripts = {"teacher-m": ModelScript(answer=lambda prompt: f"billing {len(prompt)}"),
               "student-m": ModelScript(answer="technical")}
    with OpenAIServer(scripts) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 11, fast_path=True)
        cache = tmp_path / "cache.sqlite"
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "first"), "--cache", str(cache)]) == 0
        assert len(server.log) == 22
        server.clear_log()
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "again"), "--cache", str(cache)]) == 0
        assert server.log == []
    first, again = _store_rows(tmp_path / "first"), _store_rows(tmp_path / "again")
    assert set(again) == set(first) and len(first) == 22
    for call, row in first.items():
        # The same answer and measured figures; the re-run paid nothing, made no attempt and says it was a hit.
        assert again[call][:-3] == row[:-3]
        assert row[-3] > 0 and row[-2:] == (0, 1)
        assert again[call][-3:] == (0.0, 1, 0)


# -- row order --------------------------------------------------------------------------------------

ROW_ORDER_LABELS = ("billing", "technical", "other")


def _row_order_rows(n: int) -> list[str]:
    """Tickets without an id column (content ids), a fifth of them mentioning a misleading team."""
    rng = random.Random(5)
    rows = []
    for i in range(n):
        label = ROW_ORDER_LABELS[i % 3]
        decoy = rng.choice(ROW_ORDER_LABELS) if rng.random() < 0.2 else label
        rows.append(json.dumps({"message": f"ticket #{i} about {decoy} {rng.choice(('please', 'asap', 'thanks'))}",
                                "label": label}) + "\n")
    return rows


def _row_order_spec(folder, base_url, rows: list[str]):
    """``write_spec``'s task over ``rows``, split by a hash of each content id, with both local baselines."""
    spec = write_spec(folder, base_url, 1)
    (folder / "data.jsonl").write_text("".join(rows))
    text = spec.read_text().replace("id: id, split: {column: split}", "split: {eval_fraction: 0.5}")
    spec.write_text(text.replace("scorer: exact_match\n", "scorer: exact_match\nbaselines: [tfidf_logreg, wordllama_logreg]\n"))
    return spec


def test_permuting_the_data_file_changes_no_figure_of_an_eval(tmp_path):
    from tests.commands.test_eval import _student, _teacher
    from tests.pipeline.test_offline import comparable

    rows = _row_order_rows(90)
    summaries = {}
    scripts = {"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}
    with OpenAIServer(scripts) as server:
        for seed in (None, 1, 2, 3):
            shuffled = rows[:]
            if seed is not None:
                random.Random(seed).shuffle(shuffled)
            folder = tmp_path / f"order-{seed}"
            spec = _row_order_spec(folder / "task", server.base_url, shuffled)
            assert main(["eval", str(spec), "--runs-dir", str(folder / "runs"), "--cache", str(folder / "cache.sqlite")]) == 0
            [summary] = (folder / "runs").glob("*/summary.json")
            summaries[seed] = comparable(json.loads(summary.read_text()))
    original = summaries.pop(None)
    models = original["models"]
    assert models["teacher"]["n"] == models["student"]["n"] > 30 and original["comparisons"]  # all of it really ran
    assert 0 < models["student"]["metric"]["value"] < 1 and models["tfidf_logreg"]["metric"] is not None
    for seed, permuted in summaries.items():
        assert permuted == original, f"shuffle {seed} changed a reported figure"


def test_the_calls_scored_outputs_and_item_results_are_let_go_before_the_decision(tmp_path, monkeypatch):
    # The decision reads the run back; the eval's own copies of every row kept alive beside it were the
    # memory peak of a large eval (issue 27).
    import gc

    from distilleval.pipeline import decision
    from distilleval.results.build import ModelOutput
    from distilleval.results.summary_json import ItemResult
    from distilleval.run.runner import CallResult

    live: list[int] = []
    record = decision.record_decision

    def counting(*args, **kwargs):
        gc.collect()
        live.append(sum(1 for o in gc.get_objects() if isinstance(o, (CallResult, ModelOutput, ItemResult))))
        return record(*args, **kwargs)

    monkeypatch.setattr(decision, "record_decision", counting)
    with OpenAIServer({"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="technical")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 5, fast_path=True)
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "c.sqlite")]) == 0
    assert live == [0]
    [run_dir] = list((tmp_path / "runs").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["item_store"]["rows"] == 5 and "decision" in summary


def test_an_eval_over_lazily_loaded_items_writes_the_summary_the_list_path_writes(tmp_path, monkeypatch):
    from distilleval.spec import lazy_items
    from tests.commands.test_eval import _student, _teacher
    from tests.pipeline.test_offline import comparable

    loaded = []
    load = lazy_items.load_items_lazily
    monkeypatch.setattr("distilleval.pipeline.preflight.load_items_lazily",
                        lambda *args, **kwargs: loaded.append(load(*args, **kwargs)) or loaded[-1])
    monkeypatch.setattr(lazy_items, "CHUNK", 7)  # several chunks read back
    summaries = {}
    scripts = {"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}
    with OpenAIServer(scripts) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 60, fast_path=True)
        rows = (tmp_path / "task" / "data.jsonl").read_text().splitlines(keepends=True)
        train = [row.replace('"split": "eval"', '"split": "train"') for row in rows[:15]]
        (tmp_path / "task" / "data.jsonl").write_text("".join(train + rows[15:]))
        text = spec.read_text().replace("scorer: exact_match\n", "scorer: exact_match\nbaselines: [tfidf_logreg]\n")
        spec.write_text(text)
        for lazy_from in (10**9, 10):
            monkeypatch.setattr(lazy_items, "LAZY_FROM", lazy_from)
            runs = tmp_path / f"runs-{lazy_from}"
            assert main(["eval", str(spec), "--runs-dir", str(runs), "--cache", str(tmp_path / f"cache-{lazy_from}.sqlite"),
                         "--limit", "40"]) == 0
            [summary] = runs.glob("*/summary.json")
            summaries[lazy_from] = comparable(json.loads(summary.read_text()))
    assert [type(items).__name__ for items in loaded] == ["list", "LazyItems"]
    listed, lazy = summaries[10**9], summaries[10]
    assert listed["models"]["student"]["n"] == 40 and listed["models"]["tfidf_logreg"]["metric"] is not None
    assert listed.get("decision") and listed.get("spec_data")
    assert lazy == listed


def _rescored(run_dir, spec_path):
    """``run_dir``'s summary and item rows, then those of scoring the same run again after its calls."""
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.pipeline.evaluate import _decide, _write_streamed
    from distilleval.pipeline.latency_probe import latency_context
    from distilleval.pipeline.preflight import check_eval_inputs
    from distilleval.run.store import RunStore
    from distilleval.spec.task_spec import load_spec
    from tests.pipeline.test_scoring_follower import comparable

    followed = comparable(run_dir)
    spec = load_spec(spec_path)
    roles = list(spec.models())
    with RunStore(run_dir) as store:
        contexts = {role: latency_context(store, role) for role in roles}
    checked = check_eval_inputs(spec, limit=None, baselines=[])
    written = _write_streamed(spec, checked.evaluate, roles, [], resolve_pricing(spec, None), run_dir, contexts,
                              student_training=None, batch_notes={})
    _decide(spec, run_dir, run_dir / "summary.json", written, checked.items)  # counting the data now
    return followed, comparable(run_dir)


def _scoring_recorded(monkeypatch) -> list[int]:
    """Small chunks, quick polls, and the run store's row count each time a chunk is scored."""
    from distilleval.pipeline import scoring_follower, streamed_summary

    monkeypatch.setattr(streamed_summary, "CHUNK_ITEMS", 4)
    monkeypatch.setattr(scoring_follower, "POLL_S", 0.01)
    rows_when_scored: list[int] = []
    score = streamed_summary.ChunkScoring.score

    def recording(self, store, chunk):
        rows_when_scored.append(store.db.execute("SELECT count(*) FROM records").fetchone()[0])
        return score(self, store, chunk)

    monkeypatch.setattr(streamed_summary.ChunkScoring, "score", recording)
    return rows_when_scored


def test_eval_scores_chunks_while_its_calls_run_into_the_summary_scoring_after_them_gives(tmp_path, monkeypatch):
    import threading

    from distilleval.report import data_counts
    from tests.commands.test_eval import _student, _teacher

    rows_when_scored = _scoring_recorded(monkeypatch)
    counted_in: list[str] = []
    count_data = data_counts.count_data

    def counting(*args):
        counted_in.append(threading.current_thread().name)
        return count_data(*args)

    monkeypatch.setattr(data_counts, "count_data", counting)
    scripts = {"teacher-m": ModelScript(answer=_teacher, delay_ms=50), "student-m": ModelScript(answer=_student, delay_ms=50)}
    with OpenAIServer(scripts) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 40)
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--no-cache", "--concurrency", "2"]) == 0
    assert len(rows_when_scored) == 10 and rows_when_scored[0] < 80  # the first chunk before the last result
    assert counted_in == ["distilleval-scoring"]  # the decision's data counts made while the calls ran, once
    [run_dir] = list((tmp_path / "runs").iterdir())
    followed, after = _rescored(run_dir, spec)
    assert followed == after and followed[0]["models"]["student"]["n"] == 40
    assert followed[0]["decision"] and followed[0]["spec_data"]["eval_input_tokens"]["student"]["limit"] == 40


def test_eval_interrupted_while_scoring_alongside_leaves_no_summary_and_resumes(tmp_path, monkeypatch):
    import sqlite3
    import threading
    import time

    from distilleval.pipeline import evaluate
    from distilleval.run.runner import CallResult

    rows_when_scored = _scoring_recorded(monkeypatch)
    call_models = evaluate._call_models

    async def interrupted(spec, calls, probe, backends, store, *args):
        """The first eight items' calls made (in the order they are drawn), then Ctrl-C once the follower has scored a chunk."""
        first_calls = next(calls.keyed_chunks({role: role for role in calls.roles}))  # the first items, in order
        for item_id, role, *_ in first_calls[:16]:
            store.add(CallResult(item_id, role, 0, "ok", text="billing", latency_ms=5.0, attempts=1))
        deadline = time.monotonic() + 60
        while not rows_when_scored and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "_call_models", interrupted)
    with OpenAIServer({"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="technical")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 20)
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--no-cache"]) != 0
        assert rows_when_scored
        [run_dir] = list((tmp_path / "runs").iterdir())
        assert not (run_dir / "summary.json").exists()
        assert "distilleval-scoring" not in {thread.name for thread in threading.enumerate()}
        with sqlite3.connect(run_dir / "records.sqlite") as db:
            assert db.execute("SELECT count(*) FROM item_rows").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM records").fetchone() == (16,)
        monkeypatch.setattr(evaluate, "_call_models", call_models)
        assert main(["eval", str(spec), "--resume", str(run_dir), "--no-cache"]) == 0
    followed, after = _rescored(run_dir, spec)
    assert followed == after and followed[0]["models"]["student"]["n"] == 20
