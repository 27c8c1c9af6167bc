"""distilleval against a real model server: every figure a run reports agrees with the server's own record.

llama.cpp serves SmolLM2-135M-Instruct; a recording proxy in front of it keeps the server's
answer to each call (usage block, finish reason, llama.cpp's own timings) and the proxy's own
clock around the server. The task: 16 short reviews; the teacher gets the rubric as a system
message, the student the raw review. The model is tiny, so its answers are a realistic mix of
right, wrong, cut-off and invalid ones: what matters here is that distilleval reports them as
the server gave them.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.costs.cost_model import format_usd
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary
from distilleval.testing.llama_server import LlamaServer
from tests.real_server.server_record import recorded_calls, server_calls
from tests.real_server.task import (
    LABELS,
    REVIEWS,
    STUDENT_MIN,
    STUDENT_PRICE_AS,
    TEACHER_PRICE_AS,
    TEACHER_RATES,
    normalized_answer,
    write_task,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
N_ITEMS = len(REVIEWS)
N_CALLS = 2 * N_ITEMS  # teacher and student per review
GOLD = {f"r{number:02d}": label for number, (_, label) in enumerate(REVIEWS)}

# What distilleval's clock may add to the proxy's clock around the server for the same call, at
# concurrency 1: the client's own work between its request and response hooks, two loopback
# hops and the proxy's forwarding. Not a speed target: a bound on the gap between two
# measurements of one call (issue 26 measured 13-17 ms over the server's own timings).
CLIENT_OVERHEAD_MS = 50.0


def _eval(spec: Path, runs: Path, *extra: str) -> Path:
    """Run ``distilleval eval`` in this process; return the one new run folder."""
    before = set(runs.iterdir()) if runs.exists() else set()
    assert main(["eval", str(spec), "--runs-dir", str(runs), *extra]) == 0
    [run_dir] = set(runs.iterdir()) - before
    return run_dir


@pytest.fixture(scope="module")
def task(tmp_path_factory, llama_proxy):
    """The spec, its models served through the recording proxy."""
    return write_task(tmp_path_factory.mktemp("task"), llama_proxy.base_url)


@pytest.fixture(scope="module")
def run_c1(task, llama_proxy, tmp_path_factory):
    """An eval at concurrency 1 with no cache, and the server's record of its calls."""
    llama_proxy.clear()
    run_dir = _eval(task, tmp_path_factory.mktemp("runs_c1"), "--concurrency", "1", "--no-cache")
    return run_dir, server_calls(llama_proxy.exchanges())


@pytest.fixture(scope="module")
def run_c4(task, llama_proxy, tmp_path_factory):
    """An eval at concurrency 4 filling a cache, the cache file, and the server's record."""
    llama_proxy.clear()
    folder = tmp_path_factory.mktemp("runs_c4")
    cache = folder / "cache.sqlite"
    run_dir = _eval(task, folder / "runs", "--concurrency", "4", "--cache", str(cache))
    return run_dir, server_calls(llama_proxy.exchanges()), cache


def _pair_calls(run_dir, calls):
    """Each recorded call with the one server call that answered it (a healthy server: no retries)."""
    recorded = recorded_calls(run_dir)
    assert len(recorded) == N_CALLS and all(r.status == "ok" and not r.cache_hit for r in recorded)
    by_key = collections.defaultdict(list)
    for call in calls:
        by_key[(call.item_id, call.role)].append(call)
    assert sorted(by_key) == sorted((r.item_id, r.role) for r in recorded)
    assert all(len(answers) == 1 for answers in by_key.values()), "a call was sent twice to a healthy server"
    return [(r, by_key[(r.item_id, r.role)][0]) for r in recorded]


def _assert_each_call_agrees(run_dir, calls):
    """Tokens, cached tokens, answer, finish reason and cost per call equal the server's; latency encloses its time."""
    pairs = _pair_calls(run_dir, calls)
    for record, call in pairs:
        where = f"{record.role} {record.item_id}"
        assert (record.input_tokens, record.output_tokens) == (call.prompt_tokens, call.completion_tokens), where
        assert record.cached_input_tokens == call.cached_tokens, where
        assert record.finish_reason == call.finish_reason, where
        assert record.text == call.text, where
        assert record.cost_usd == pytest.approx(call.hand_priced_usd, rel=1e-9, abs=1e-12), where
        # Three clocks around one call, each enclosing the next: distilleval's, the proxy's, llama.cpp's.
        assert record.latency_ms >= call.upstream_ms >= call.server_ms, (where, record.latency_ms, call)
    return pairs


def _assert_summary_agrees(run_dir, calls):
    """The summary's per-model totals are the server's, summed."""
    summary = read_summary(run_dir)
    for role in ("teacher", "student"):
        mine = [c for c in calls if c.role == role]
        result = summary.models[role]
        assert result.n == N_ITEMS and result.errors == {}
        assert result.input_tokens.mean == pytest.approx(statistics.mean(c.prompt_tokens for c in mine))
        assert result.output_tokens.mean == pytest.approx(statistics.mean(c.completion_tokens for c in mine))
        assert result.cached_input_tokens_total == sum(c.cached_tokens for c in mine)
        assert result.truncated == sum(c.finish_reason == "length" for c in mine)
        assert result.spent_usd == pytest.approx(sum(c.hand_priced_usd for c in mine), rel=1e-9)
        assert result.latency_ms.n == N_ITEMS
        # Every call is at least its server time, so each order statistic is too: p50 (whatever the
        # interpolation) is at least the lower median of the server times.
        assert result.latency_ms.p50 >= statistics.median_low(c.server_ms for c in mine)


def test_concurrency_1_every_call_agrees_with_the_server(run_c1, capsys):
    run_dir, calls = run_c1
    pairs = _assert_each_call_agrees(run_dir, calls)
    _assert_summary_agrees(run_dir, calls)
    gaps = sorted(record.latency_ms - call.upstream_ms for record, call in pairs)
    over_server = sorted(record.latency_ms - call.server_ms for record, call in pairs)
    with capsys.disabled():
        print(f"\n  concurrency 1: distilleval's latency - proxy's clock: median {statistics.median(gaps):.1f} ms, "
              f"max {gaps[-1]:.1f} ms; - llama.cpp's own timings: median {statistics.median(over_server):.1f} ms")
    # Alone on the server, a call's recorded latency is the server's time plus the client's own overhead.
    # On a shared machine the client process can be descheduled for a moment during any one call, so
    # the overhead bound must hold for the median and for nine calls in ten, not for the slowest call.
    assert statistics.median(gaps) <= CLIENT_OVERHEAD_MS, gaps
    assert sum(gap <= CLIENT_OVERHEAD_MS for gap in gaps) >= 0.9 * len(gaps), gaps


def test_concurrency_4_and_the_fast_path_agree_with_the_server(run_c4, task, llama_proxy, tmp_path):
    run_dir, calls, _ = run_c4
    _assert_each_call_agrees(run_dir, calls)
    _assert_summary_agrees(run_dir, calls)
    latency = read_summary(run_dir).models["teacher"].latency
    assert latency.concurrency == 4  # figures under load are labelled with their load

    fast_spec = write_task(tmp_path / "fast", llama_proxy.base_url, fast_path=True)
    llama_proxy.clear()
    fast_dir = _eval(fast_spec, tmp_path / "runs", "--concurrency", "4", "--no-cache")
    fast_calls = server_calls(llama_proxy.exchanges())
    _assert_each_call_agrees(fast_dir, fast_calls)
    _assert_summary_agrees(fast_dir, fast_calls)
    # Not compared: the answers themselves across the three runs. llama.cpp's batched decoding is
    # not bit-identical to one request at a time (seen here: "Positive" at concurrency 4 where
    # concurrency 1 got "positive"), so that would test the server; each run's answers are the
    # server's, call by call, above.


def test_a_cached_rerun_makes_no_call_and_costs_nothing(run_c4, task, llama_proxy, tmp_path):
    first_dir, _, cache = run_c4
    llama_proxy.clear()
    again = _eval(task, tmp_path / "runs", "--concurrency", "4", "--cache", str(cache))
    assert server_calls(llama_proxy.exchanges()) == []
    first, second = read_summary(first_dir), read_summary(again)
    for role in ("teacher", "student"):
        assert second.models[role].cache_hits == N_ITEMS and second.models[role].spent_usd == 0.0
        assert second.models[role].input_tokens.mean == first.models[role].input_tokens.mean
        assert second.models[role].cost_per_request_usd == pytest.approx(first.models[role].cost_per_request_usd)
    assert {(r.item_id, r.role): r.text for r in recorded_calls(again)} == {
        (r.item_id, r.role): r.text for r in recorded_calls(first_dir)}


def _scored_by_hand(calls, role):
    """(right, invalid) answers of ``role`` among the server's answers, under the spec's normalisation."""
    answers = [(normalized_answer(c.text), GOLD[c.item_id]) for c in calls if c.role == role]
    return sum(answer == gold for answer, gold in answers), sum(answer not in LABELS for answer, _ in answers)


def test_accuracy_is_the_servers_answers_scored(run_c1):
    run_dir, calls = run_c1
    summary = read_summary(run_dir)
    for role in ("teacher", "student"):
        right, _ = _scored_by_hand(calls, role)
        assert summary.models[role].metric.value == pytest.approx(right / N_ITEMS), role


def test_invalid_rate_in_the_summary_is_the_servers_invalid_answers(run_c1):
    run_dir, calls = run_c1
    for role, result in read_summary(run_dir).models.items():
        _, invalid = _scored_by_hand(calls, role)
        assert result.invalid_rate == pytest.approx(invalid / N_ITEMS), role


def test_invalid_rate_in_the_metrics_and_the_confusion_matrix_is_the_servers(run_c1):
    run_dir, calls = run_c1
    for role, result in read_summary(run_dir).models.items():
        _, invalid = _scored_by_hand(calls, role)
        in_matrix = sum(row.get("INVALID", 0) for row in result.confusion.values())
        assert (result.metrics.get("invalid_rate"), in_matrix) == (pytest.approx(invalid / N_ITEMS), invalid), role


def test_answers_that_reached_max_tokens_are_judged_on_their_content(llama_proxy, tmp_path):
    # Issue 26 item 4: with max_tokens 1, llama.cpp stops every answer with finish_reason
    # "length", yet a one-token "positive" is a whole label: scored as that label, only flagged.
    spec = write_task(tmp_path / "task", llama_proxy.base_url, max_tokens=1)
    llama_proxy.clear()
    run_dir = _eval(spec, tmp_path / "runs", "--concurrency", "4", "--no-cache")
    calls = server_calls(llama_proxy.exchanges())
    summary = read_summary(run_dir)
    for role in ("teacher", "student"):
        mine = [c for c in calls if c.role == role]
        cut = [c for c in mine if c.finish_reason == "length"]
        cut_invalid = [c for c in cut if normalized_answer(c.text) not in LABELS]
        result = summary.models[role]
        assert (result.truncated, result.truncated_invalid) == (len(cut), len(cut_invalid)), role
        right, invalid = _scored_by_hand(calls, role)
        assert result.metric.value == pytest.approx(right / N_ITEMS), role
        assert result.invalid_rate == pytest.approx(invalid / N_ITEMS), role
        for call in mine:
            item = next(i for i in iter_items(summary) if i.id == call.item_id)
            answer = normalized_answer(call.text)
            expected = None if answer == GOLD[call.item_id] else "wrong_label" if answer in LABELS else "invalid_label"
            assert item.reasons.get(role) == expected, (role, call.item_id, call.text)
            assert (role in item.reached_max_tokens) == (call.finish_reason == "length"), (role, call.item_id)
    report = tmp_path / "report.md"
    assert main(["report", str(run_dir), "--spec", str(spec), "--out", str(report)]) == 0
    raise_advised = any(r.truncated_invalid for r in summary.models.values())
    assert ("Raise max_tokens" in report.read_text()) == raise_advised


def test_the_cost_note_names_the_rate_the_servers_cached_tokens_were_priced_at(run_c1, task, tmp_path):
    # Issue 26 item 5: llama.cpp reuses the KV cache of a shared prefix and reports those tokens
    # as cached. The teacher's price row has a cached-input rate, the student's has none: the
    # note says which rate priced each model's cached tokens (the costs per call are checked above).
    run_dir, calls = run_c1
    report = tmp_path / "report.md"
    assert main(["report", str(run_dir), "--spec", str(task), "--out", str(report)]) == 0
    text = report.read_text()
    said = {
        "teacher": f"priced at the cached-input rate of {TEACHER_PRICE_AS} ({format_usd(TEACHER_RATES['cached_input'])}/1M",
        "student": f"priced at the full input rate: the pricing table has no cached-input rate for {STUDENT_PRICE_AS}",
    }
    cached = {role: sum(c.cached_tokens for c in calls if c.role == role) for role in said}
    assert cached["student"] > 0, "the server cached no student prefix: this test checks nothing"
    for role, sentence in said.items():
        assert (sentence in text) == (cached[role] > 0), (role, cached[role])
    assert "priced at the cached rates" not in text


def test_report_and_gate_read_the_run(run_c1, task, tmp_path, capsys):
    run_dir, calls = run_c1
    report = tmp_path / "report.md"
    assert main(["report", str(run_dir), "--spec", str(task), "--out", str(report)]) == 0
    text = report.read_text()
    cut = sum(c.finish_reason == "length" for c in calls if c.role == "student")
    if cut:
        assert f"{cut} of {N_ITEMS} answers were cut at max_tokens" in text
    # By the server's own answers the raw-review student is under the spec's floor: the gate fails.
    right, _ = _scored_by_hand(calls, "student")
    assert right / N_ITEMS < STUDENT_MIN
    capsys.readouterr()
    assert main(["gate", str(run_dir), "--spec", str(task)]) == 1
    assert "student_min" in capsys.readouterr().out


def _estimated_inputs(spec: Path, capsys, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["estimate", str(spec), "--format", "json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _assert_estimate_within_10_percent(spec: Path, measured_inputs: dict[str, list[int]], capsys, server: str) -> None:
    estimate = _estimated_inputs(spec, capsys)
    for role in ("teacher", "student"):
        # Counted by the server's own template and tokenizer: named as such, nothing guessed.
        assert estimate["tokenizer"][role] == f"the chat template and tokenizer of the llama.cpp server at {server}"
        assert role not in estimate["tokens_guessed"]
        measured = statistics.mean(measured_inputs[role])
        # Issue 26 asks for 10%; the server renders and counts the very prompt it is sent, so it is exact.
        assert estimate["profiles"][role]["input_tokens"]["mean"] == pytest.approx(measured, rel=1e-9), role


def test_estimate_is_within_10_percent_of_the_input_tokens_the_server_counted(run_c1, llama, tmp_path, capsys):
    # Issue 26 item 2: SmolLM2's own template adds a default system prompt the local tokenizer never sees.
    # The estimate asks the server itself (not through the proxy, whose forwarding is slow for many small calls).
    _, calls = run_c1
    spec = write_task(tmp_path / "task", llama.base_url)
    measured = {role: [c.prompt_tokens for c in calls if c.role == role] for role in ("teacher", "student")}
    _assert_estimate_within_10_percent(spec, measured, capsys, llama.base_url)


def test_estimate_follows_a_built_in_template_chosen_when_the_server_starts(llama, tmp_path, capsys):
    # The same model served with llama.cpp's built-in chatml template (no default system prompt):
    # the estimate follows the template the server uses, not the one in the GGUF file. The
    # measured tokens are the run store's (equal to the server's usage: checked call by call above).
    with LlamaServer(parallel=4, chat_template="chatml") as server:
        spec = write_task(tmp_path / "task", server.base_url, max_tokens=1)
        run_dir = _eval(spec, tmp_path / "runs", "--concurrency", "4", "--no-cache")
        recorded = recorded_calls(run_dir)
        assert all(r.status == "ok" for r in recorded) and len(recorded) == N_CALLS
        measured = {role: [r.input_tokens for r in recorded if r.role == role] for role in ("teacher", "student")}
        _assert_estimate_within_10_percent(spec, measured, capsys, server.base_url)


def test_estimate_from_a_run_states_its_measured_error_and_calibrates(run_c1, task, capsys):
    # Offline, the local tokenizer guesses (and says so); against the run it measures its error
    # and gives figures calibrated to the run's tokens.
    run_dir, calls = run_c1
    guessed = _estimated_inputs(task, capsys, "--offline")
    assert set(guessed["tokens_guessed"]) == {"teacher", "student"}
    calibrated = _estimated_inputs(task, capsys, "--offline", "--from-run", str(run_dir))
    for role in ("teacher", "student"):
        measured_in = statistics.mean(c.prompt_tokens for c in calls if c.role == role)
        measured_out = statistics.mean(c.completion_tokens for c in calls if c.role == role)
        calibration = calibrated["calibration"][role]
        assert calibration["items"] == N_ITEMS
        assert calibration["estimated_input_mean"] == pytest.approx(guessed["profiles"][role]["input_tokens"]["mean"])
        assert calibration["measured_input_mean"] == pytest.approx(measured_in)
        assert calibration["input_error"] == pytest.approx(calibration["estimated_input_mean"] / measured_in - 1)
        # The data's items are the run's items: calibrated, the estimate is the measured figure.
        assert calibrated["profiles"][role]["input_tokens"]["mean"] == pytest.approx(measured_in), role
        assert calibrated["profiles"][role]["output_tokens"]["mean"] == pytest.approx(measured_out), role
    capsys.readouterr()
    assert main(["estimate", str(task), "--offline", "--from-run", str(run_dir)]) == 0
    footer = capsys.readouterr().out
    assert "Measured error of the student estimate on 16 items" in footer and "10-20%" not in footer


def _ok_rows(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM records WHERE status='ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_killed_run_resumes_without_paying_any_call_twice(task, llama_proxy, tmp_path):
    runs = tmp_path / "runs"
    argv = [sys.executable, "-m", "distilleval", "eval", str(task), "--runs-dir", str(runs), "--concurrency", "2", "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    llama_proxy.clear()
    with (tmp_path / "child.log").open("w") as child_log:
        child = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=child_log, stderr=child_log)
        deadline = time.monotonic() + 120
        stores: list[Path] = []
        while time.monotonic() < deadline and child.poll() is None:
            stores = list(runs.glob("*/records.sqlite")) if runs.exists() else []
            if stores and _ok_rows(stores[0]) >= N_CALLS // 3:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed_at = time.time()
    assert stores and child.returncode == -signal.SIGKILL, (tmp_path / "child.log").read_text()
    killed_run = stores[0].parent
    assert not (killed_run / "summary.json").exists()
    done_before = {(r.item_id, r.role) for r in recorded_calls(killed_run) if r.status == "ok"}
    assert N_CALLS // 3 <= len(done_before) < N_CALLS  # killed in the middle

    assert main(["eval", str(task), "--resume", str(killed_run), "--concurrency", "2", "--no-cache"]) == 0
    calls = server_calls(llama_proxy.exchanges())
    recorded = recorded_calls(killed_run)
    assert len(recorded) == N_CALLS and all(r.status == "ok" for r in recorded)
    # Nothing recorded before the kill was asked of the server again after it ...
    asked_after = {(c.item_id, c.role) for c in calls if c.received_at > killed_at}
    assert not asked_after & done_before
    # ... and a call was paid twice only if it was in flight when the child died (at most 2 at once).
    paid = collections.Counter((c.item_id, c.role) for c in calls if c.status == 200)
    assert len(paid) == N_CALLS and sum(n - 1 for n in paid.values()) <= 2
    # The resumed run's figures are still the server's, for the calls it kept.
    last_answer = {}
    for call in calls:
        last_answer[(call.item_id, call.role)] = call
    for record in recorded:
        call = last_answer[(record.item_id, record.role)]
        assert (record.input_tokens, record.output_tokens, record.text) == (call.prompt_tokens, call.completion_tokens, call.text)
    assert read_summary(killed_run).models["student"].n == N_ITEMS


def test_report_and_gate_give_one_verdict_from_anywhere_for_a_run_folder_moved_alone(run_c4, llama_proxy, tmp_path, monkeypatch, capsys):
    # A run of a spec that is then deleted: the run folder, moved elsewhere, is all that is left.
    _, _, cache = run_c4
    spec = write_task(tmp_path / "task", llama_proxy.base_url)
    run_dir = _eval(spec, tmp_path / "runs", "--cache", str(cache))  # answers replayed: no call
    here = tmp_path / "here.md"
    assert main(["report", str(run_dir), "--out", str(here)]) == 0
    gate_here = main(["gate", str(run_dir)])
    moved = tmp_path / "archive" / run_dir.name
    moved.parent.mkdir()
    shutil.move(run_dir, moved)
    shutil.rmtree(spec.parent)
    monkeypatch.chdir(tmp_path / "archive")
    capsys.readouterr()
    gate_there = main(["gate", str(moved)])
    report_there = main(["report", str(moved), "--out", "report.md"])
    printed = capsys.readouterr()
    assert (gate_there, report_there) == (gate_here, 0), printed.err
    there = tmp_path / "archive" / "report.md"
    assert _verdict(there) == _verdict(here) is not None
    assert _tables(there) == _tables(here)


def _verdict(report: Path) -> str | None:
    return next((line for line in report.read_text().splitlines() if line.startswith("## Verdict")), None)


def _tables(report: Path) -> list[str]:
    return [line for line in report.read_text().splitlines() if line.startswith("|")]
