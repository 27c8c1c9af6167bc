"""`distilleval eval` end to end: real HTTP to a local server, real SQLite, a real SIGKILL."""

import collections
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary
from distilleval.testing.openai_server import ModelScript, OpenAIServer, ServerProcess, random_faults

REPO_ROOT = Path(__file__).resolve().parents[2]
LABELS = ("billing", "technical", "other")
RUBRIC = "Route the ticket to one team: billing, technical or other. Answer with the team only.\nTicket: {text}\n"


def _label_of(text):
    """The label hidden in a ticket's text (the fake model 'reads' it)."""
    ticket = text.split("Ticket:")[-1]
    return next((label for label in LABELS if f"about {label}" in ticket), "other")


def _teacher(prompt):
    return _label_of(prompt)


def _student(prompt):
    # Wrong on every fifth ticket: accuracy 0.8 against the teacher's 1.0.
    number = int(prompt.split("#")[1].split()[0])
    return "other" if number % 5 == 0 and _label_of(prompt) != "other" else _label_of(prompt)


def write_spec(folder, base_url, n_items, *, fast_path=False, timeout_s=5.0):
    """A label task whose models are served by the test server at ``base_url``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data.jsonl").open("w") as handle:
        for i in range(n_items):
            label = LABELS[i % 3]
            handle.write(json.dumps({"id": f"t{i}", "message": f"ticket #{i} about {label}", "label": label, "split": "eval"}) + "\n")
    (folder / "rubric.md").write_text(RUBRIC)
    (folder / "spec.yaml").write_text(
        f"""name: routing
data: {{path: data.jsonl, input: {{text: message}}, gold: label, id: id, split: {{column: split}}}}
output: {{kind: label, labels: [billing, technical, other]}}
scorer: exact_match
teacher:
  model: openai/teacher-m
  prompt: rubric.md
  api_base: {base_url}
  price_as: anthropic/claude-opus-4-6
  timeout_s: {timeout_s}
student:
  model: openai/student-m
  prompt: "{{text}}"
  api_base: {base_url}
  price_as: tinker/lora
  fast_path: {str(fast_path).lower()}
  timeout_s: {timeout_s}
"""
    )
    return folder / "spec.yaml"


def _eval(spec, tmp_path, *extra):
    return main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache.sqlite"), *extra])


def _only_run(tmp_path):
    [run_dir] = list((tmp_path / "runs").iterdir())
    return run_dir


def test_eval_writes_the_run_directory(tmp_path, capsys):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 15, fast_path=True)
        assert _eval(spec, tmp_path, "--concurrency", "4") == 0
    run_dir = _only_run(tmp_path)
    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("records.sqlite-")) == [
        "2026-02.yaml", "records.sqlite", "spec.resolved.yaml", "summary.json"]
    summary = read_summary(run_dir)
    teacher, student = summary.models["teacher"], summary.models["student"]
    assert (teacher.n, student.n) == (15, 15)
    # Tickets 0 and 10 are the multiples of 5 whose label is not "other": the student misses them.
    assert teacher.metric.value == 1.0 and student.metric.value == pytest.approx(13 / 15)
    # Teacher 5/5/5 billing/technical/other, student 4/4/7, 13 agree: chance 75/225, kappa 0.8.
    assert json.loads((run_dir / "summary.json").read_text())["comparisons"][0]["kappa"] == pytest.approx(0.8)
    assert teacher.spent_usd > student.spent_usd > 0
    assert "Route the ticket" in (run_dir / "spec.resolved.yaml").read_text()
    rows = sqlite3.connect(run_dir / "records.sqlite").execute("SELECT COUNT(*), COUNT(DISTINCT item_id) FROM records").fetchone()
    assert rows == (30, 15)
    assert str(run_dir / "summary.json") in capsys.readouterr().out


def test_latency_is_honest_and_a_cached_rerun_is_free(tmp_path):
    # The seed's figures: teacher 450 ms, student 35 ms. The server runs in its own process.
    with ServerProcess({"teacher-m": (450, "billing"), "student-m": (35, "billing")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 12)
        assert _eval(spec, tmp_path, "--concurrency", "4") == 0
        first = read_summary(_only_run(tmp_path))
        (tmp_path / "first").mkdir()
        _only_run(tmp_path).rename(tmp_path / "first" / "run")
        assert _eval(spec, tmp_path, "--concurrency", "4") == 0
        second = read_summary(_only_run(tmp_path))
    # Within the bound (10% + 5 ms of the server's delay), unless the run says the client
    # itself set the figures (a loaded machine: then they are marked client-bound, never judged).
    for role, true_ms in (("teacher", 450), ("student", 35)):
        result = first.models[role]
        assert true_ms <= result.latency_ms.p50, result.latency_ms
        assert result.latency.client_bound or result.latency_ms.p50 <= true_ms * 1.1 + 5, result.latency
    for role in ("teacher", "student"):
        again = second.models[role]
        assert again.cache_hits == 12 and again.latency_ms is None  # no new latency samples
        # ... but the original calls' figures are kept, marked as such.
        assert again.latency.original_ms.p50 == pytest.approx(first.models[role].latency_ms.p50)
        assert again.spent_usd == 0.0
        assert again.cost_per_request_usd == pytest.approx(first.models[role].cost_per_request_usd)
        assert again.input_tokens.mean == first.models[role].input_tokens.mean


@pytest.mark.parametrize("fast_path", [False, True])
def test_twenty_percent_faults_every_item_scored_or_recorded(tmp_path, fast_path):
    n = 30
    faults = random_faults(0.2, seed=11)
    scripts = {
        "teacher-m": ModelScript(answer=_teacher, faults=faults, slow_s=2.5, retry_after_s=0.01),
        "student-m": ModelScript(answer=_student, faults=faults, slow_s=2.5, retry_after_s=0.01),
    }
    with OpenAIServer(scripts) as server:
        # The timeout leaves room for a loaded 2-core machine: only "slow" faults should hit it.
        spec = write_spec(tmp_path / "task", server.base_url, n, fast_path=fast_path, timeout_s=1.2)
        code = _eval(spec, tmp_path, "--concurrency", "8", "--max-retries", "1", "--no-cache")
        log = list(server.log)
    summary = read_summary(_only_run(tmp_path))
    assert sum(r.outcome != "ok" for r in log) >= 8
    # Exit 1 exactly when a model failed more than the default 2% of its calls (the run is written either way).
    assert code == (1 if any(summary.models[role].error_rate > 0.02 for role in ("teacher", "student")) else 0)
    for role in ("teacher", "student"):
        result = summary.models[role]
        answered = [i for i in iter_items(summary) if i.outputs.get(role) is not None]
        errored = [i for i in iter_items(summary) if role in i.errors]
        assert result.n == n == len(answered) + len(errored)
        assert sum(result.errors.values()) == len(errored)
        paid = collections.Counter(r.prompt for r in log if r.outcome == "ok" and r.model == f"{role}-m")
        assert sum(paid.values()) == len(answered) and max(paid.values()) == 1


def _count_rows(path):
    try:
        return sqlite3.connect(path, timeout=1).execute("SELECT COUNT(*) FROM records WHERE status='ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("how", ["resume", "rerun"])
def test_sigkill_then_continue_calls_each_item_once(tmp_path, how):
    """Killed mid-run, then continued with --resume (run store only, cache off) or by simply
    re-running the same command (a new run that replays finished calls from the cache)."""
    n = 40
    scripts = {"teacher-m": ModelScript(answer=_teacher, delay_ms=120), "student-m": ModelScript(answer=_student, delay_ms=120)}
    cache_args = ["--no-cache"] if how == "resume" else ["--cache", str(tmp_path / "cache.sqlite")]
    with OpenAIServer(scripts) as server:
        spec = write_spec(tmp_path / "task", server.base_url, n)
        argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--runs-dir", str(tmp_path / "runs"),
                "--concurrency", "4", *cache_args]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        with (tmp_path / "child.log").open("w") as child_log:
            child = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=child_log, stderr=child_log)
            deadline = time.monotonic() + 60
            runs = []
            while time.monotonic() < deadline and not runs:
                found = list((tmp_path / "runs").glob("*/records.sqlite")) if (tmp_path / "runs").exists() else []
                if found and _count_rows(found[0]) >= 20:
                    runs = found
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
            child.wait()
        killed_at = time.monotonic()
        assert runs, (tmp_path / "child.log").read_text()
        killed_run = runs[0].parent
        assert not (killed_run / "summary.json").exists()
        done_before = {row[0] + "/" + row[1] for row in sqlite3.connect(killed_run / "records.sqlite").execute(
            "SELECT item_id, model FROM records WHERE status='ok'")}
        assert 20 <= len(done_before) < 2 * n  # killed in the middle

        if how == "resume":
            assert main(["eval", str(spec), "--resume", str(killed_run), *cache_args, "--concurrency", "4"]) == 0
            final_run = killed_run
        else:
            assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), *cache_args, "--concurrency", "4"]) == 0
            [final_run] = [p for p in (tmp_path / "runs").iterdir() if p != killed_run]
        log = list(server.log)

    rows = sqlite3.connect(final_run / "records.sqlite").execute("SELECT item_id, model, status, cache_hit FROM records").fetchall()
    assert len(rows) == 2 * n and len({(i, m) for i, m, _, _ in rows}) == 2 * n
    assert all(status == "ok" for _, _, status, _ in rows)
    if how == "rerun":
        assert sum(hit for *_, hit in rows) >= len(done_before)
    # Nothing recorded before the kill was asked of the server again after it.
    after_kill = [r for r in log if r.received_at > killed_at]
    asked_again = {f"t{r.prompt.split('#')[1].split()[0]}/{r.model[:-2]}" for r in after_kill}
    assert not (asked_again & done_before)
    # Each item was answered at most twice: once more only if it was in flight at the kill.
    paid = collections.Counter((r.model, r.prompt) for r in log if r.outcome == "ok")
    assert len(paid) == 2 * n
    assert sum(count - 1 for count in paid.values()) <= 4
    summary = read_summary(final_run)
    assert summary.models["teacher"].n == n and summary.models["student"].errors == {}


def test_unreachable_server_fails_fast_without_a_run_dir(tmp_path, capsys):
    spec = write_spec(tmp_path / "task", "http://127.0.0.1:9/v1", 3)
    assert _eval(spec, tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot connect to http://127.0.0.1:9/v1" in err and "\n" not in err
    assert not (tmp_path / "runs").exists()


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    spec = write_spec(tmp_path / "task", "http://127.0.0.1:9/v1", 3)
    assert _eval(spec, tmp_path, "--models", "teacher,oracle") == 2
    assert "unknown model oracle" in capsys.readouterr().err
    assert _eval(spec, tmp_path, "--resume", "nope") == 2
    assert "no run found" in capsys.readouterr().err


def test_models_limit_and_refresh(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 9)
        assert _eval(spec, tmp_path, "--models", "student", "--limit", "4") == 0
        assert {r.model for r in server.log} == {"student-m"} and len(server.log) == 4
        assert _eval(spec, tmp_path, "--models", "student", "--limit", "4") == 0
        assert len(server.log) == 4  # all from the cache
        assert _eval(spec, tmp_path, "--models", "student", "--limit", "4", "--refresh") == 0
        assert len(server.log) == 8  # --refresh called again


def test_api_key_never_reaches_a_file_or_the_output(tmp_path, monkeypatch, capsys):
    secret = "sk-distilleval-test-7f3a9c"
    monkeypatch.setenv("ROUTING_API_KEY", secret)
    scripts = {"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}
    with OpenAIServer(scripts, api_key=secret) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 4)
        text = spec.read_text().replace("  price_as: tinker/lora", "  price_as: tinker/lora\n  api_key_env: ROUTING_API_KEY")
        spec.write_text(text.replace("  price_as: anthropic/claude-opus-4-6", "  price_as: anthropic/claude-opus-4-6\n  api_key_env: ROUTING_API_KEY"))
        assert _eval(spec, tmp_path) == 0
        assert {r.outcome for r in server.log} == {"ok"}  # the key was sent and accepted
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "cache.sqlite" for p in written) and any(p.name == "records.sqlite" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err


def test_resume_refuses_a_changed_spec(tmp_path, capsys):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 3)
        assert _eval(spec, tmp_path) == 0
        spec.write_text(spec.read_text().replace("name: routing", "name: routing\ndescription: edited"))
        assert _eval(spec, tmp_path, "--resume", str(_only_run(tmp_path))) == 2
    err = capsys.readouterr().err.strip()
    assert "the spec file" in err and "changed since this run started" in err and "\n" not in err


def test_baselines_train_on_the_train_split_and_join_the_summary(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 9)
        with (spec.parent / "data.jsonl").open("a") as handle:
            for i in range(100, 130):
                label = LABELS[i % 3]
                handle.write(json.dumps({"id": f"t{i}", "message": f"ticket #{i} about {label}", "label": label, "split": "train"}) + "\n")
        spec.write_text(spec.read_text() + "baselines: [tfidf_logreg]\n")
        assert _eval(spec, tmp_path, "--models", "student,tfidf_logreg") == 0
        assert {r.model for r in server.log} == {"student-m"}
    summary = read_summary(_only_run(tmp_path))
    assert set(summary.models) == {"student", "tfidf_logreg"}
    baseline = summary.models["tfidf_logreg"]
    assert baseline.role == "baseline" and baseline.n == 9 and baseline.metric.value is not None


def test_rejected_key_stops_the_run_with_a_resume_hint(tmp_path, capsys):
    scripts = {"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}
    with OpenAIServer(scripts, api_key="the-right-key") as server:
        spec = write_spec(tmp_path / "task", server.base_url, 30)
        assert _eval(spec, tmp_path, "--concurrency", "2") == 2
        requests = len(server.log)
    err = capsys.readouterr().err.strip()
    assert "cannot be used (auth)" in err and "--resume" in err and "\n" not in err
    assert requests <= 6  # stopped at the first refusals instead of trying all 60 calls


def test_cache_hits_are_priced_with_this_runs_table(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher, usage=(1000, 10)), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 3)
        assert _eval(spec, tmp_path, "--models", "teacher") == 0
        first = read_summary(_only_run(tmp_path))
        (tmp_path / "old").mkdir()
        _only_run(tmp_path).rename(tmp_path / "old" / "run")
        # The same calls replayed under a table where the teacher costs twice as much.
        table = (REPO_ROOT / "pricing" / "2026-02.yaml").read_text()
        dearer = tmp_path / "dearer.yaml"
        dearer.write_text(table.replace("    input: 5.00\n    output: 25.00", "    input: 10.00\n    output: 50.00"))
        assert _eval(spec, tmp_path, "--models", "teacher", "--pricing", str(dearer)) == 0
        second = read_summary(_only_run(tmp_path))
    assert first.models["teacher"].cost_per_request_usd == pytest.approx(1000 * 5e-6 + 10 * 25e-6)
    assert second.models["teacher"].cost_per_request_usd == pytest.approx(2 * first.models["teacher"].cost_per_request_usd)
    assert second.models["teacher"].spent_usd == 0.0 and second.models["teacher"].cache_hits == 3


def test_image_inputs_are_sent_as_base64_data_urls(tmp_path):
    import base64

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 2)
        (spec.parent / "scan.png").write_bytes(png)
        rows = [json.loads(line) for line in (spec.parent / "data.jsonl").read_text().splitlines()]
        (spec.parent / "data.jsonl").write_text("".join(json.dumps({**row, "scan": "scan.png"}) + "\n" for row in rows))
        text = spec.read_text().replace("input: {text: message}", "input: {text: message, scan: scan}, image_inputs: [scan]")
        spec.write_text(text)
        assert _eval(spec, tmp_path, "--models", "student") == 0
        bodies = [r.body for r in server.log]
    assert len(bodies) == 2
    for body in bodies:
        parts = body["messages"][-1]["content"]
        assert parts[0]["type"] == "text"
        assert parts[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(png).decode()


def test_an_unpriced_baseline_fails_before_any_call(tmp_path, capsys):
    # Baselines are priced after the model calls; without this check the calls would be paid first.
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 3)
        spec.write_text(spec.read_text() + "baselines: [{kind: tfidf_logreg, price_as: cpu/nowhere}]\n")
        assert _eval(spec, tmp_path) == 2
        assert list(server.log) == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "spec.yaml:" in err and "baselines[0]: model 'cpu/nowhere' has no price" in err
    assert not (tmp_path / "runs").exists()


def test_latency_probe_makes_fresh_paid_calls_and_reports_them_unloaded(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher, delay_ms=60), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 10, fast_path=True)
        assert _eval(spec, tmp_path, "--concurrency", "8", "--models", "teacher,student") == 0  # fills the cache
        server.clear_log()
        assert _eval(spec, tmp_path, "--concurrency", "8", "--latency-probe", "4@2", "--out", str(tmp_path / "probed")) == 0
        probe_requests = list(server.log)
    # Every eval call was a cache hit; the probe alone reached the server: 4 items per model, at most 2 at once.
    assert sorted(r.model for r in probe_requests) == ["student-m"] * 4 + ["teacher-m"] * 4
    assert _max_in_flight(probe_requests) <= 2
    summary = read_summary(tmp_path / "probed")
    for role in ("teacher", "student"):
        result = summary.models[role]
        assert result.cache_hits == 10 and result.latency_ms is None
        assert result.latency.unloaded_ms.n == 4 and result.latency.unloaded_concurrency == 2
        assert result.latency.probe_spent_usd > 0 and result.spent_usd == pytest.approx(result.latency.probe_spent_usd)
        assert result.latency.original_ms.n == 10  # the first run's figures, shown as such
    assert summary.models["teacher"].latency.unloaded_ms.p50 >= 60


def test_spec_latency_block_runs_the_probe_and_a_resume_does_not_pay_for_it_twice(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6, fast_path=True)
        spec.write_text(spec.read_text() + "latency: {probe_calls: 3, concurrency: 1}\n")
        out = str(tmp_path / "run")
        assert _eval(spec, tmp_path, "--out", out) == 0
        assert len(server.log) == 12 + 6
        server.clear_log()
        assert _eval(spec, tmp_path, "--out", out) == 0  # continues the same run: the probe is recorded
        assert server.log == []
    assert read_summary(out).models["student"].latency.unloaded_ms.n == 3


def _max_in_flight(log):
    events = sorted([(r.received_at, 1) for r in log] + [(r.finished_at, -1) for r in log])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak



def _cut_answer(prompt):
    # With max_tokens 1 (one word per token) even tickets keep "billing", a label; odd ones "techn".
    return "billing team please" if int(prompt.split("#")[1].split()[0]) % 2 == 0 else "techn ical"


def test_answers_cut_at_max_tokens_are_judged_on_their_content(tmp_path):
    # Issue 26 item 4: an answer that reached max_tokens but is a valid label is scored as that
    # label and only flagged; a wrong one keeps its real reason; raising max_tokens is advised
    # only because some cut answers are not a valid output.
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_cut_answer)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6, fast_path=True)
        spec.write_text(spec.read_text().replace('  prompt: "{text}"\n', '  prompt: "{text}"\n  max_tokens: 1\n'))
        assert _eval(spec, tmp_path) == 0
    summary = read_summary(_only_run(tmp_path))
    student = summary.models["student"]
    assert student.truncated == 6 and summary.models["teacher"].truncated == 0
    # Gold: t0 billing, t1 technical, t2 other, t3 billing, t4 technical, t5 other.
    assert student.metric.value == pytest.approx(1 / 6)  # "billing" on t0
    assert student.reasons == {"wrong_label": 2, "invalid_label": 3}  # t2, t4 wrong; "techn" on t1, t3, t5
    assert student.truncated_invalid == 3 and student.invalid_rate == pytest.approx(3 / 6)
    assert all(item.reached_max_tokens == ["student"] for item in iter_items(summary))
    report = (tmp_path / "report.md")
    assert main(["report", str(_only_run(tmp_path)), "--out", str(report)]) == 0
    assert ("6 of 6 answers were cut at max_tokens (reached max_tokens) and are judged on their content: 3 of them "
            "are not a valid output (counted as invalid)") in report.read_text()
    assert "Raise max_tokens for this model." in report.read_text()


def test_complete_labels_that_reached_max_tokens_are_right_or_wrong_and_no_raise_is_advised(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer="billing team please")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6, fast_path=True)
        spec.write_text(spec.read_text().replace('  prompt: "{text}"\n', '  prompt: "{text}"\n  max_tokens: 1\n'))
        assert _eval(spec, tmp_path) == 0
    student = read_summary(_only_run(tmp_path)).models["student"]
    assert student.truncated == 6 and student.truncated_invalid == 0 and student.invalid_rate == 0.0
    assert student.reasons == {"wrong_label": 4}  # "billing" is a label: right on two items, wrong on four
    report = (tmp_path / "report.md")
    assert main(["report", str(_only_run(tmp_path)), "--out", str(report)]) == 0
    text = report.read_text()
    assert "6 of 6 answers were cut at max_tokens (reached max_tokens) and are judged on their content: each is a valid output" in text
    assert "Raise max_tokens" not in text


@pytest.mark.parametrize("fast_path", [False, True], ids=["litellm", "fast-path"])
def test_latency_under_load_is_within_the_bound_or_marked_client_bound_and_the_gate_judges_the_probe(tmp_path, fast_path):
    # The server answers in 35 ms. At concurrency 64 a saturated client inflates what it measures:
    # such figures must be marked client-bound, and the gate must judge the unloaded probe instead.
    from distilleval.gate.checks import run_checks
    from distilleval.spec.task_spec import GatesSpec

    with ServerProcess({"teacher-m": (35, "billing"), "student-m": (35, "billing")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 96, fast_path=fast_path)
        assert _eval(spec, tmp_path, "--concurrency", "64", "--latency-probe", "20@1") == 0
    summary = read_summary(_only_run(tmp_path))
    bound_ms = 35 * 1.1 + 5
    for role in ("teacher", "student"):
        result = summary.models[role]
        assert result.latency.concurrency == 64 and result.latency.unloaded_ms.n == 20
        if not result.latency.client_bound:
            assert 35 <= result.latency_ms.p50 <= result.latency_ms.p95 <= bound_ms, result.latency_ms
        # The probe's median is the server's delay plus the transport (never faster than the server),
        # within the bound unless even the probe is marked client-bound (a machine too busy to tell).
        assert 35 <= result.latency.unloaded_ms.p50, result.latency.unloaded_ms
        assert result.latency.unloaded_client_bound or result.latency.unloaded_ms.p50 <= bound_ms, result.latency
    # The run store keeps the same verdict per role in its meta table.
    meta = sqlite3.connect(_only_run(tmp_path) / "records.sqlite").execute(
        "SELECT value FROM meta WHERE key = 'latency_under_load'").fetchone()[0]
    assert {role: figures["client_bound"] for role, figures in json.loads(meta).items()} == {
        role: summary.models[role].latency.client_bound for role in ("teacher", "student")}
    [check] = [c for c in run_checks(summary, GatesSpec(max_p95_latency_ms=bound_ms)) if c.name == "max_p95_latency"]
    if summary.models["student"].latency.unloaded_client_bound:
        assert check.status == "skip" and "client-bound even in the probe" in check.message
    else:
        assert "unloaded" in check.message, check.message


# -- --batch: the providers' batch APIs -------------------------------------------------------


def write_batch_spec(folder, server, n_items):
    """Teacher on OpenAI's batch shape, student on Anthropic's, both priced with a batch tier."""
    spec = write_spec(folder, server.openai_base, n_items)
    teacher, student = spec.read_text().split("student:\n")
    teacher = teacher.replace("price_as: anthropic/claude-opus-4-6", "price_as: openai/gpt-4.1-mini")
    student = student.replace("model: openai/student-m", "model: anthropic/student-m")
    student = student.replace(server.openai_base, server.anthropic_base).replace("tinker/lora", "anthropic/claude-opus-4-6")
    spec.write_text(teacher + "student:\n" + student)
    return spec


def _batch_answer(prompt):
    return _teacher(prompt) if "Route the ticket" in prompt else _student(prompt)


def test_eval_batch_runs_both_roles_through_batches_priced_at_the_batch_tier(tmp_path, capsys):
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.costs.pricing import load_pricing
    from distilleval.testing.batch_servers import BatchServer

    with BatchServer(answer=_batch_answer, polls_to_finish=1, expires=lambda p: "#7 " in p) as server:
        spec = write_batch_spec(tmp_path / "spec", server, 20)
        # One expired item of 20 per model (5%) is above the default 2% error-rate limit: the run
        # is written in full and eval exits 1.
        assert _eval(spec, tmp_path, "--batch", "--batch-poll", "0.01") == 1
        assert sorted(provider for provider, _, _ in server.submissions) == ["anthropic", "openai"]
        assert all(size == 20 for _, _, size in server.submissions)
    run_dir = _only_run(tmp_path)
    summary = read_summary(run_dir / "summary.json")
    models = summary.models
    for role in ("teacher", "student"):
        assert models[role].batch is True
        assert models[role].latency_ms is None  # no per-request latency from a batch
        assert models[role].batch_api == ("openai" if role == "teacher" else "anthropic")
        assert models[role].errors == {"expired": 1}
    with sqlite3.connect(run_dir / "records.sqlite") as db:
        assert db.execute("SELECT COUNT(*), COUNT(latency_ms) FROM records").fetchone() == (40, 0)
        (teacher_in, teacher_out, spent) = db.execute(
            "SELECT SUM(input_tokens), SUM(output_tokens), SUM(cost_usd) FROM records WHERE model = 'teacher'"
        ).fetchone()
    price = load_pricing().price_for("openai/gpt-4.1-mini")
    assert spent == pytest.approx(request_cost_usd(price, teacher_in, teacher_out, batch=True))
    out = capsys.readouterr().out
    assert "  student: 1 of 20 calls failed (expired 1), error rate 5.0% > limit 2.0%" in out
    assert out.rstrip().endswith(
        "distilleval eval: teacher, student failed more than 2.0% of calls (gates.max_error_rate): the run is "
        f"written but not judged; fix the cause, then `distilleval eval {spec} --resume {run_dir}` re-calls only "
        "the failed items")
    assert main(["report", str(run_dir)]) == 0
    assert "answered through the openai batch API in this run" in capsys.readouterr().out


def test_eval_batch_killed_while_polling_is_resumed_by_the_same_command(tmp_path):
    from distilleval.testing.batch_servers import BatchServer, kill_while_polling

    with BatchServer(answer=_batch_answer, polls_to_finish=10**9) as server:
        spec = write_batch_spec(tmp_path / "spec", server, 12)
        kill_while_polling(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache.sqlite"),
                            "--batch", "--batch-poll", "0.05", "--models", "teacher"], server)
        server.polls_to_finish = 0
        assert _eval(spec, tmp_path, "--batch", "--batch-poll", "0.01", "--models", "teacher") == 0
        assert len(server.submissions) == 1
    run_dir = _only_run(tmp_path)  # the same run directory was continued, not a new one made
    summary = read_summary(run_dir / "summary.json")
    teacher = summary.models["teacher"]
    assert summary.n_items == 12 and teacher.errors == {}
    with sqlite3.connect(run_dir / "records.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM records WHERE status = 'ok'").fetchone() == (12,)


def test_eval_batch_names_a_model_without_a_batch_api(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec", "http://127.0.0.1:9/v1", 3)
    spec.write_text(spec.read_text().replace("model: openai/student-m", "model: gemini/student-m"))
    assert _eval(spec, tmp_path, "--batch") == 2
    assert "the student model 'gemini/student-m' has no provider batch API" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# -- a run's identity: --resume and a reused run directory never mix answers to old and new inputs ----


def _change_data(spec, tmp_path):
    data = spec.parent / "data.jsonl"
    data.write_text(data.read_text().replace("ticket #1 about", "ticket #1 (edited) about"))
    return f"the data file {data} changed since this run started (sha256 "


def _change_rubric(spec, tmp_path):
    (spec.parent / "rubric.md").write_text(RUBRIC.replace("Answer with the team only.", "Answer with one word."))
    return f"the teacher's prompt file {spec.parent / 'rubric.md'} changed since this run started (sha256 "


def _change_setting(spec, tmp_path):
    spec.write_text(spec.read_text().replace("  prompt: rubric.md\n", "  prompt: rubric.md\n  temperature: 0.7\n"))
    return "the teacher's model settings changed since this run started (temperature 0.0 -> 0.7)"


def _change_pricing(spec, tmp_path):
    table = tmp_path / "prices.yaml"
    table.write_text(table.read_text().replace("as_of:", "# prices read again\nas_of:", 1))
    return f"the pricing table {table} changed since this run started (sha256 "


@pytest.mark.parametrize("change", [_change_data, _change_rubric, _change_setting, _change_pricing])
def test_resume_refuses_a_run_whose_inputs_changed_and_names_what_changed(tmp_path, capsys, change):
    from distilleval.costs.pricing import load_pricing

    (tmp_path / "prices.yaml").write_text(load_pricing().path.read_text())
    pricing = ["--pricing", str(tmp_path / "prices.yaml")]
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6)
        assert _eval(spec, tmp_path, "--limit", "3", *pricing) == 0  # half the items: a run to continue
        run_dir = _only_run(tmp_path)
        before = sqlite3.connect(run_dir / "records.sqlite").execute("SELECT * FROM records ORDER BY rowid").fetchall()
        summary_before = (run_dir / "summary.json").read_bytes()
        calls_before = len(server.log)
        capsys.readouterr()
        expected = change(spec, tmp_path)
        assert _eval(spec, tmp_path, "--resume", str(run_dir), *pricing) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err
        assert err.startswith(f"distilleval eval: error: {run_dir}: {expected}"), err
        assert "start a new run" in err
        # The same refusal for the run directory reused with --out.
        assert main(["eval", str(spec), "--out", str(run_dir), "--cache", str(tmp_path / "cache.sqlite"), *pricing]) == 2
        assert expected in capsys.readouterr().err
        assert len(server.log) == calls_before  # nothing was called
    after = sqlite3.connect(run_dir / "records.sqlite").execute("SELECT * FROM records ORDER BY rowid").fetchall()
    assert after == before and (run_dir / "summary.json").read_bytes() == summary_before  # nothing mixed in


def test_resume_with_the_same_inputs_from_a_moved_project_continues(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6)
        assert _eval(spec, tmp_path, "--limit", "3") == 0
        (tmp_path / "task").rename(tmp_path / "moved")
        assert _eval(tmp_path / "moved" / "spec.yaml", tmp_path, "--resume", str(_only_run(tmp_path))) == 0
        assert len(server.log) == 12  # 3 items x 2 models, then the other 3 x 2
    assert read_summary(_only_run(tmp_path)).models["teacher"].n == 6


# -- paid answers are durable: the run store first, a bad cache set aside, one line for the rest ----


def _ok_rows(run_dir):
    return sqlite3.connect(run_dir / "records.sqlite").execute("SELECT COUNT(*) FROM records WHERE status = 'ok'").fetchone()[0]


def _paid(server):
    return sum(1 for r in server.log if r.outcome == "ok")


def test_a_cache_that_cannot_be_written_is_warned_about_and_the_run_goes_on(tmp_path, capsys):
    (tmp_path / "not-a-folder").write_text("a file where the cache folder should be")
    cache = tmp_path / "not-a-folder" / "cache.sqlite"
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 5)
        argv = ["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(cache)]
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert f"warning: cannot write the response cache {cache}" in err and "Traceback" not in err
        assert _ok_rows(_only_run(tmp_path)) == 10 and _paid(server) == 10
        assert main([*argv, "--resume", str(_only_run(tmp_path))]) == 0
        assert _paid(server) == 10  # every paid answer is in the run store: nothing paid again


def test_a_read_only_cache_folder_still_replays_a_fully_cached_run(tmp_path, capsys):
    from tests.file_faults import read_only_folder

    (tmp_path / "cache").mkdir()
    cache = tmp_path / "cache" / "cache.sqlite"
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 5)
        argv = ["eval", str(spec), "--cache", str(cache)]
        assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 0
        capsys.readouterr()
        with read_only_folder(tmp_path / "cache"):
            assert main([*argv, "--runs-dir", str(tmp_path / "again")]) == 0
        assert _paid(server) == 10  # the replay paid nothing
    err = capsys.readouterr().err
    assert err.count("warning: cannot write the response cache") == 1 and "Traceback" not in err
    [replay] = list((tmp_path / "again").iterdir())
    assert read_summary(replay).models["student"].cache_hits == 5


def test_a_cache_file_that_is_not_sqlite_is_set_aside_and_the_next_run_pays_nothing(tmp_path, capsys):
    cache = tmp_path / "cache.sqlite"
    cache.write_text("this is a note someone saved under the cache's name\n")
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 5)
        assert _eval(spec, tmp_path) == 0
        err = capsys.readouterr().err.strip()
        assert f"warning: the response cache {cache} is damaged" in err and "Traceback" not in err
        assert len(err.splitlines()) == 1
        [aside] = [p for p in tmp_path.glob("cache.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
        assert aside.read_text() == "this is a note someone saved under the cache's name\n"
        assert _ok_rows(_only_run(tmp_path)) == 10
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "again"), "--cache", str(cache)]) == 0
        assert _paid(server) == 10


def test_a_damaged_cache_page_loses_no_paid_answer_and_the_next_run_pays_nothing(tmp_path, capsys):
    from tests.file_faults import damage_a_page

    answer = lambda prompt: _teacher(prompt) + " " + "because " * 60  # long answers: many pages  # noqa: E731
    with OpenAIServer({"teacher-m": ModelScript(answer=answer), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 40)
        runs = [tmp_path / f"runs{i}" for i in range(3)]
        argv = ["eval", str(spec), "--cache", str(tmp_path / "cache.sqlite"), "--concurrency", "8"]
        assert main([*argv, "--runs-dir", str(runs[0])]) == 0
        damage_a_page(tmp_path / "cache.sqlite")
        capsys.readouterr()
        assert main([*argv, "--runs-dir", str(runs[1])]) == 0
        err = capsys.readouterr().err
        assert "is damaged (database disk image is malformed)" in err and "Traceback" not in err
        paid_second = _paid(server) - 80
        assert main([*argv, "--runs-dir", str(runs[2])]) == 0
        paid_third = _paid(server) - 80 - paid_second
    [second] = list(runs[1].iterdir())
    assert _ok_rows(second) == 80  # every answer of the damaged run is stored
    # Paid again: only answers on the damaged page (about 7 of these fit a 4 KiB page); then none.
    assert paid_second <= 10 and paid_third == 0


def test_a_damaged_run_store_is_one_line_with_exit_2(tmp_path, capsys):
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 3)
        run_dir = tmp_path / "runs" / "broken"
        run_dir.mkdir(parents=True)
        (run_dir / "records.sqlite").write_bytes(b"\x00garbage" * 1000)
        capsys.readouterr()
        assert _eval(spec, tmp_path, "--resume", str(run_dir)) == 2
        assert server.log == []
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"distilleval eval: error: {run_dir / 'records.sqlite'}: the run store is damaged")
    assert "\n" not in err and "Traceback" not in err
    assert (run_dir / "records.sqlite").read_bytes() == b"\x00garbage" * 1000


def test_a_read_only_runs_folder_is_one_line_with_exit_2_even_for_a_cached_replay(tmp_path, capsys):
    from tests.file_faults import read_only_folder

    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 3)
        assert _eval(spec, tmp_path) == 0  # everything is now in the cache
        capsys.readouterr()
        with read_only_folder(tmp_path / "runs"):
            assert _eval(spec, tmp_path) == 2
        assert _paid(server) == 6
    err = capsys.readouterr().err.strip()
    assert "cannot write the run store" in err and str(tmp_path / "runs") in err
    assert "\n" not in err and "Traceback" not in err


def test_eval_batch_killed_then_moved_without_its_wal_file_submits_nothing_again(tmp_path):
    from distilleval.testing.batch_servers import BatchServer, kill_while_polling

    with BatchServer(answer=_batch_answer, polls_to_finish=10**9) as server:
        spec = write_batch_spec(tmp_path / "spec", server, 12)
        kill_while_polling(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache.sqlite"),
                            "--batch", "--batch-poll", "0.05", "--models", "teacher"], server)
        run_dir = _only_run(tmp_path)
        # Copied elsewhere the way a user copies "the run": the documented file, not its -wal / -shm.
        (tmp_path / "moved").mkdir()
        for path in run_dir.iterdir():
            if not path.name.endswith(("-wal", "-shm")):
                (tmp_path / "moved" / path.name).write_bytes(path.read_bytes())
        shutil.rmtree(run_dir)
        (tmp_path / "moved").rename(run_dir)
        server.polls_to_finish = 0
        assert _eval(spec, tmp_path, "--batch", "--batch-poll", "0.01", "--models", "teacher") == 0
        assert len(server.submissions) == 1
    assert read_summary(_only_run(tmp_path)).models["teacher"].n == 12


# -- Ctrl-C and SIGTERM: a clean stop, the exact command to continue, no traceback from any process ----


def sigint_as_at_a_terminal() -> None:
    """``preexec_fn`` for a child that must take Ctrl-C as a terminal's foreground job does: SIGINT at its
    default. A shell starts a background job (``pytest ... &``, as CI scripts may) with SIGINT ignored, and
    every process it starts inherits that, so the child would never see the interrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_eval_with_litellm_workers_stops_cleanly_and_says_how_to_resume(tmp_path, how, status):
    import shlex

    n = 30
    scripts = {"teacher-m": ModelScript(answer=_teacher, delay_ms=150), "student-m": ModelScript(answer=_student, delay_ms=150)}
    with OpenAIServer(scripts) as server:
        spec = write_spec(tmp_path / "task", server.base_url, n)
        argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--runs-dir", str(tmp_path / "runs"),
                "--no-cache", "--concurrency", "4"]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DISTILLEVAL_LITELLM_WORKERS": "2"}
        # A session of its own, so a SIGINT to its process group is what a Ctrl-C at a terminal does.
        child = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 start_new_session=True, text=True, preexec_fn=sigint_as_at_a_terminal)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            found = list((tmp_path / "runs").glob("*/records.sqlite")) if (tmp_path / "runs").exists() else []
            if found and _count_rows(found[0]) >= 6:
                break
            time.sleep(0.05)
        if how == "SIGINT":
            os.killpg(child.pid, signal.SIGINT)
        else:
            child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
        assert child.returncode == status, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        # One line besides the progress lines a pipe gets (``run.heartbeat``: "distilleval eval: 12.0 s: calls, ...").
        [line] = [line for line in err.splitlines() if line.strip() and not re.match(r"distilleval eval: \d+\.\d s: ", line)]
        run_dir = _only_run(tmp_path)
        stopped = "interrupted" if how == "SIGINT" else "stopped by SIGTERM"
        assert line.startswith(f"distilleval eval: {stopped}; finished calls are saved in {run_dir}; continue with: ")
        command = shlex.split(line.split("continue with: ", 1)[1])
        assert command[:3] == ["distilleval", "eval", str(spec)] and command[-2:] == ["--resume", str(run_dir)]
        stored = set(sqlite3.connect(run_dir / "records.sqlite").execute(
            "SELECT model || '-m', item_id FROM records WHERE status = 'ok'").fetchall())
        assert 6 <= len(stored) < 2 * n
        stopped_at = len(server.log)
        paid_unstored = {(r.model, "t" + r.prompt.split("#")[1].split()[0]) for r in server.log if r.outcome == "ok"} - stored
        assert len(paid_unstored) <= 4  # only the calls in flight at the stop (--concurrency 4)
        assert main(command[1:]) == 0  # the printed command, as printed
        asked_again = {(r.model, "t" + r.prompt.split("#")[1].split()[0]) for r in server.log[stopped_at:]}
        paid = {(r.model, r.prompt) for r in server.log if r.outcome == "ok"}
    assert len(paid) == 2 * n and _count_rows(run_dir / "records.sqlite") == 2 * n
    assert not asked_again & stored  # nothing stored before the stop was asked again
    assert len(asked_again) == 2 * n - len(stored)


def test_eval_batch_with_changed_data_never_collects_old_batches_into_a_run_of_the_new_data(tmp_path, capsys):
    from distilleval.testing.batch_servers import BatchServer, kill_while_polling

    with BatchServer(answer=_batch_answer, polls_to_finish=10**9) as server:
        spec = write_batch_spec(tmp_path / "spec", server, 8)
        argv = ["--batch", "--batch-poll", "0.05", "--models", "teacher"]
        kill_while_polling(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache.sqlite"),
                            *argv], server)
        data = spec.parent / "data.jsonl"
        data.write_text(data.read_text().replace("ticket #3 about", "ticket #3 (edited) about"))
        capsys.readouterr()
        assert _eval(spec, tmp_path, *argv) == 2
        err = capsys.readouterr().err.strip()
        assert "has provider batches submitted and not collected, but the data file" in err and "--out NEW_DIR" in err
        assert "\n" not in err and len(server.submissions) == 1
        server.polls_to_finish = 0
        assert _eval(spec, tmp_path, *argv, "--out", str(tmp_path / "fresh")) == 0  # the way out it names
    assert read_summary(tmp_path / "fresh").models["teacher"].n == 8


def test_a_cache_on_a_full_disk_loses_no_paid_answer(tmp_path, capsys):
    from tests.file_faults import small_disk

    answer = lambda prompt: _teacher(prompt) + " " + "because " * 400  # noqa: E731  (3 KB answers)
    with small_disk(tmp_path / "disk", 96), OpenAIServer(
        {"teacher-m": ModelScript(answer=answer), "student-m": ModelScript(answer=_student)}
    ) as server:
        cache = tmp_path / "disk" / "cache.sqlite"
        spec = write_spec(tmp_path / "task", server.base_url, 40)
        spec.write_text(spec.read_text().replace("  prompt: rubric.md\n", "  prompt: rubric.md\n  max_tokens: 1000\n"))
        argv = ["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(cache)]
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert f"warning: cannot write the response cache {cache}" in err and "full" in err and "Traceback" not in err
        run_dir = _only_run(tmp_path)
        assert _ok_rows(run_dir) == 80 and _paid(server) == 80
        assert main([*argv, "--resume", str(run_dir)]) == 0
        assert _paid(server) == 80  # the run store has every answer the full cache could not take


# -- property: SIGKILLs at random points, faults, changed inputs and resumes never mix or pay twice ----


def _stored(run_dir):
    """(model, item id) -> answer text of every ok row of a run ({} while the child has not made its tables)."""
    db = sqlite3.connect(run_dir / "records.sqlite", timeout=5)
    try:
        return {(m, i): t for m, i, t in db.execute("SELECT model, item_id, text FROM records WHERE status = 'ok'")}
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def _item_of(prompt):
    return "t" + prompt.split("#")[1].split()[0]


def _edited_answer(prompt):
    """The ticket's team, turned by the number in every edit marker of the prompt: an answer to an
    edited input differs from the answer to the original, so a mixed run shows."""
    import re

    turn = sum(int(n) for n in re.findall(r"(?:\bv|\(edit )(\d+)", prompt))
    return LABELS[(LABELS.index(_label_of(prompt)) + turn) % 3]


def _expected_answers(spec):
    """(model, item id) -> what the scripted models answer to today's prompts of the spec's items."""
    rubric = (spec.parent / "rubric.md").read_text()
    rows = [json.loads(line) for line in (spec.parent / "data.jsonl").read_text().splitlines()]
    expected = {}
    for row in rows:
        expected[("teacher", row["id"])] = _edited_answer(rubric.format(text=row["message"]))
        expected[("student", row["id"])] = _edited_answer(row["message"])
    return expected


def _start_child(spec, out, cache):
    argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--out", str(out), "--cache", str(cache),
            "--concurrency", "4", "--max-retries", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_property_kills_faults_changed_inputs_and_resumes_never_mix_or_pay_twice(tmp_path_factory):
    """Hypothesis draws a sequence of SIGKILLs (after a random number of stored answers), edits of
    the data or rubric file and continuations, with or without injected faults. After every step:
    a run whose inputs changed is refused (store and server untouched), a continued run never asks
    again for an answer it stored, every stored answer is the answer to the run's own inputs; at
    the end the run equals a fresh run of the same inputs item by item, and every answer was paid
    for once, except calls in flight at a kill."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    step = st.one_of(
        st.tuples(st.just("kill"), st.integers(min_value=1, max_value=50)),
        st.tuples(st.just("change"), st.sampled_from(["data", "rubric"])),
    )

    # No shrinking: each example runs real processes; a failure prints its steps as drawn.
    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(steps=st.lists(step, min_size=1, max_size=4), fault_rate=st.sampled_from([0.0, 0.25]))
    def scenario(steps, fault_rate):
        folder = tmp_path_factory.mktemp("scenario")
        faults = random_faults(fault_rate, kinds=("rate_limit", "server_error"), seed=len(steps))
        scripts = {"teacher-m": ModelScript(answer=_edited_answer, delay_ms=20, faults=faults),
                   "student-m": ModelScript(answer=_edited_answer, delay_ms=20, faults=faults)}
        cache = folder / "cache.sqlite"
        with OpenAIServer(scripts) as server:
            spec = write_spec(folder / "task", server.base_url, 25)
            run_number, edits, kills = 0, 0, 0
            out = folder / "runs" / "r0"
            for kind, value in [*steps, ("finish", None)]:
                if kind == "change":
                    edits += 1
                    if value == "data":
                        data = spec.parent / "data.jsonl"
                        data.write_text(data.read_text().replace("ticket #2 ", f"ticket #2 v{edits} ", 1))
                    else:
                        (spec.parent / "rubric.md").write_text(RUBRIC + f"(edit {edits})\n")
                    if (out / "records.sqlite").is_file():
                        before, asked = _stored(out), len(server.log)
                        # The run of the old inputs is never continued with the new ones.
                        assert main(["eval", str(spec), "--out", str(out), "--cache", str(cache)]) == 2
                        assert _stored(out) == before and len(server.log) == asked
                        run_number += 1
                        out = folder / "runs" / f"r{run_number}"
                    continue
                stored_before = _stored(out) if (out / "records.sqlite").is_file() else {}
                asked_from = len(server.log)
                if kind == "kill":
                    kills += 1
                    child = _start_child(spec, out, cache)
                    deadline = time.monotonic() + 60
                    while child.poll() is None and time.monotonic() < deadline:
                        if (out / "records.sqlite").is_file() and len(_stored(out)) - len(stored_before) >= value:
                            break
                        time.sleep(0.02)
                    child.send_signal(signal.SIGKILL)
                    child.wait(timeout=30)
                else:
                    for _ in range(4):  # errors (faults past the retries) are tried again on each continuation
                        code = main(["eval", str(spec), "--out", str(out), "--cache", str(cache),
                                     "--concurrency", "4", "--max-retries", "1"])
                        # Exit 1 says a role failed more than max_error_rate; the errors are re-called next time.
                        assert code == (0 if len(_stored(out)) == 50 else 1), (steps, code, len(_stored(out)))  # 1 of 25 is 4%
                        if len(_stored(out)) == 50:
                            break
                asked = {(r.model[:-2], _item_of(r.prompt)) for r in server.log[asked_from:]}
                assert not asked & set(stored_before), (steps, asked & set(stored_before))
                after = _stored(out)
                expected = _expected_answers(spec)
                assert {key: expected[key] for key in after} == after, steps  # never an answer to other inputs
                assert after.items() >= stored_before.items()
            final = read_summary(out)
            paid = collections.Counter((r.model, r.prompt) for r in server.log if r.outcome == "ok")
        assert sum(count - 1 for count in paid.values()) <= 4 * kills, steps
        # A fresh run of today's inputs, no cache, no faults: the same results item by item.
        with OpenAIServer({"teacher-m": ModelScript(answer=_edited_answer),
                           "student-m": ModelScript(answer=_edited_answer)}) as clean:
            spec.write_text(spec.read_text().replace(server.base_url, clean.base_url))
            assert main(["eval", str(spec), "--out", str(folder / "fresh"), "--no-cache"]) == 0
        fresh = read_summary(folder / "fresh")
        assert _stored(out) == _stored(folder / "fresh"), steps
        for role in ("teacher", "student"):
            assert (final.models[role].n, final.models[role].metric.value, final.models[role].errors) == (
                fresh.models[role].n, fresh.models[role].metric.value, fresh.models[role].errors), steps

    scenario()


def test_answers_lost_to_thinking_are_counted_in_the_runs_spend(tmp_path, monkeypatch):
    """Gemini bills the thinking of an answer it lost to thinking: summary.json's spent_usd counts it."""
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.costs.pricing import load_pricing

    monkeypatch.setenv("ROUTING_API_KEY", "k")
    with OpenAIServer({"student-m": ModelScript(answer=_student)},
                      default=ModelScript(answer="billing", usage=(30, 1), thinking_tokens=50_000)) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 4)
        text = spec.read_text().replace(
            "  model: openai/teacher-m\n  prompt: rubric.md\n  api_base: " + server.base_url,
            "  model: gemini/gemini-3-pro-preview\n  prompt: rubric.md\n  api_base: " + server.api_base("gemini")
            + "\n  api_key_env: ROUTING_API_KEY",
        )
        spec.write_text(text.replace("price_as: anthropic/claude-opus-4-6", "price_as: gemini/gemini-2.5-flash"))
        _eval(spec, tmp_path, "--max-retries", "0")
        configs = [entry.body["generationConfig"] for entry in server.log if "generationConfig" in entry.body]
    teacher = read_summary(_only_run(tmp_path)).models["teacher"]
    assert teacher.errors == {"thinking_exhausted": 4}
    _, price = load_pricing().find("gemini/gemini-2.5-flash")
    billed = sum(request_cost_usd(price, 30, c.get("maxOutputTokens", c.get("max_output_tokens"))) for c in configs)
    assert len(configs) == 4 and billed > 0
    assert teacher.spent_usd == pytest.approx(billed)


def test_a_failed_openai_batch_gives_its_reason_in_the_summary_the_output_and_the_report(tmp_path, capsys):
    from distilleval.testing.batch_servers import BatchServer

    reasons = [{"code": "token_limit_exceeded", "message": "Enqueued token limit reached for gpt-4.1-mini.", "line": None}]
    with BatchServer(answer=_batch_answer, polls_to_finish=0, fail_batch=reasons) as server:
        spec = write_batch_spec(tmp_path / "spec", server, 6)
        assert _eval(spec, tmp_path, "--batch", "--batch-poll", "0.01", "--models", "teacher") == 1
    out = capsys.readouterr().out
    reason = "batch_failed: token_limit_exceeded: Enqueued token limit reached for gpt-4.1-mini."
    teacher = read_summary(_only_run(tmp_path)).models["teacher"]
    assert teacher.errors == {"batch_failed": 6}
    assert teacher.error_reasons == {reason: 6}  # one reason for the whole batch, counted once per call
    assert f"teacher batch: {reason} (6 calls)" in out
    assert main(["report", str(_only_run(tmp_path)), "--format", "md", "--out", str(tmp_path / "report.md")]) == 0
    assert f"{reason} (6)" in (tmp_path / "report.md").read_text()


def test_eval_batch_refuses_a_prompt_longer_than_the_context_window_before_any_upload(tmp_path, capsys):
    from distilleval.testing.batch_servers import BatchServer

    with BatchServer(answer=_batch_answer, polls_to_finish=0) as server:
        spec = write_batch_spec(tmp_path / "spec", server, 4)
        spec.write_text(spec.read_text().replace("model: openai/teacher-m", "model: openai/gpt-4"))  # 8,192 input tokens
        data = tmp_path / "spec" / "data.jsonl"
        rows = [json.loads(line) for line in data.read_text().splitlines()]
        rows[2]["message"] = "charged twice " * 6000
        data.write_text("".join(json.dumps(row) + "\n" for row in rows))
        assert _eval(spec, tmp_path, "--batch", "--batch-poll", "0.01", "--models", "teacher") == 2
        assert server.submissions == []
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"teacher model, item {rows[2]['id']}" in err and "context window of 8,192" in err


def test_a_missing_key_says_how_to_go_on_without_it(tmp_path, capsys, monkeypatch):
    # The teacher's key is not set; the student's server needs none: the one line names both ways on,
    # and the `--models` it suggests runs.
    monkeypatch.delenv("ROUTING_MISSING_KEY", raising=False)
    with OpenAIServer({"student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6, fast_path=True)
        spec.write_text(spec.read_text().replace(
            "  price_as: anthropic/claude-opus-4-6", "  price_as: anthropic/claude-opus-4-6\n  api_key_env: ROUTING_MISSING_KEY"))
        assert _eval(spec, tmp_path) == 2
        err = capsys.readouterr().err
        assert err == (
            "distilleval eval: error: teacher model 'openai/teacher-m': environment variable ROUTING_MISSING_KEY "
            "(api_key_env in the spec) is not set; no key for teacher (ROUTING_MISSING_KEY): "
            f"`distilleval run {spec} --offline` for a no-cost run (reference labels, local baselines, projected costs), "
            "or add `--models student` to call only the models whose keys are set\n"
        )
        assert not (tmp_path / "runs").exists()
        assert _eval(spec, tmp_path, "--models", "student") == 0
    # Another configuration error (no batch price) while the teacher lacks its key: no advice about keys.
    assert _eval(spec, tmp_path, "--batch") == 2
    err = capsys.readouterr().err
    assert "has no batch price" in err and "no key for" not in err
    assert read_summary(_only_run(tmp_path)).models["student"].n == 6
