"""Whatever happens to a labelling or a gated run, paid answers stay paid once and the gate stays sound.

Hypothesis draws the faults and the points at which a real child process is SIGKILLed:

- ``label``: answers the cache held at a kill are not paid for again (only calls in flight may
  be), and the finished labels equal a fresh labelling;
- ``label --batch``: killed while submitting or polling, its ledger moved without SQLite's side
  files, every pool item is still submitted exactly once;
- ``eval`` then ``gate``: a check over a role whose error rate is above the limit is never a pass.

``eval``'s own kill / resume / changed-input property is in ``tests/commands/test_eval.py``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from distilleval.cli.main import main
from distilleval.results.summary_json import read_summary
from distilleval.testing.openai_server import ModelScript, OpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[2]
LABELS = ("billing", "technical", "other")
N_ITEMS = 24
CONCURRENCY = 4


def _label_of(prompt: str) -> str:
    ticket = prompt.split("Ticket:")[-1]
    return next((label for label in LABELS if f"about {label}" in ticket), "other")


def _student(prompt: str) -> str:
    number = int(prompt.split("#")[1].split()[0])
    return "other" if number % 4 == 0 else _label_of(prompt)


class Faults:
    """A fault decider whose rate the test changes between steps: the first ``attempts`` tries
    of a prompt chosen by its hash fail, so a run with enough retries always ends answered."""

    def __init__(self) -> None:
        self.share = 0.0
        self.attempts = 1

    def __call__(self, prompt: str, attempt: int) -> str | None:
        chosen = (zlib.crc32(prompt.encode()) % 1000) / 1000 < self.share
        return "rate_limit" if chosen and attempt < self.attempts else None


FAULTS = Faults()


@pytest.fixture(scope="module")
def server():
    scripts = {
        "teacher-m": ModelScript(answer=_label_of, delay_ms=25, faults=FAULTS, retry_after_s=0.0),
        "student-m": ModelScript(answer=_student, delay_ms=25, faults=FAULTS, retry_after_s=0.0),
    }
    with OpenAIServer(scripts) as running:
        yield running


def _write_task(folder: Path, base_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(N_ITEMS):
        label = LABELS[i % 3]
        split = "train" if i % 6 == 5 else "eval"
        rows.append({"id": f"t{i}", "message": f"ticket #{i} about {label}", "label": label, "split": split})
    (folder / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "rubric.md").write_text("Route the ticket: billing, technical or other.\nTicket: {text}\n")
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
  timeout_s: 5
student:
  model: openai/student-m
  prompt: "{{text}}"
  api_base: {base_url}
  price_as: tinker/lora
  timeout_s: 5
gates:
  student_min: 0.5
  teacher_min: 0.5
  non_inferiority_margin: 0.5
  max_error_rate: 0.02
"""
    )
    return folder / "spec.yaml"


def _change_data(folder: Path, item: int) -> None:
    """Move one item to another team: new text and new gold, same id."""
    path = folder / "data.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    row = rows[item % len(rows)]
    new_label = LABELS[(LABELS.index(row["label"]) + 1) % 3]
    row["message"] = row["message"].rsplit(" about ", 1)[0] + f" about {new_label}"
    row["label"] = new_label
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(teacher_share=st.sampled_from([0.0, 0.01, 0.1, 0.4, 1.0]), student_share=st.sampled_from([0.0, 0.05, 0.3, 1.0]))
def test_the_gate_never_passes_a_check_over_a_role_that_failed_too_often(server, teacher_share, student_share, capsys):
    """No retries, faults on a drawn share of each role's prompts: whatever the eval says, a
    gate check over a role whose error rate is above ``max_error_rate`` is never a pass."""
    shares = {"teacher-m": teacher_share, "student-m": student_share}

    def faults(model):
        return lambda prompt, attempt: "rate_limit" if (zlib.crc32(prompt.encode()) % 1000) / 1000 < shares[model] else None

    scripts = {
        "teacher-m": ModelScript(answer=_label_of, faults=faults("teacher-m"), retry_after_s=0.0),
        "student-m": ModelScript(answer=_student, faults=faults("student-m"), retry_after_s=0.0),
    }
    with OpenAIServer(scripts) as faulty, tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        spec = _write_task(tmp_path / "task", faulty.base_url)
        code = main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--no-cache", "--max-retries", "0"])
        summary = read_summary(next((tmp_path / "runs").iterdir()))
        capsys.readouterr()
        gate_code = main(["gate", str(next((tmp_path / "runs").iterdir()))])
        gate_output = capsys.readouterr().out
    too_many = {result.role for result in summary.models.values() if (result.error_rate or 0) > 0.02}
    if too_many:
        assert code != 0, "eval exited 0 although a role failed too often"
        assert gate_code == 1, gate_output
        for line in gate_output.splitlines():
            if line.lstrip().upper().startswith("PASS"):
                assert not any(role in line for role in too_many), line
    else:
        assert gate_code == 0, gate_output


def _child(argv: list[str], log_path: Path) -> subprocess.Popen:
    """``python -m distilleval ARGV`` in a child process (so it can be SIGKILLed), output to ``log_path``."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with log_path.open("a") as log:
        return subprocess.Popen([sys.executable, "-m", "distilleval", *argv], stdout=log, stderr=log, env=env)


def _write_pool(folder: Path, n: int) -> Path:
    path = folder / "pool.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{i}", "message": f"ticket #{i} about {LABELS[i % 3]}", "split": "train"}) + "\n"
                            for i in range(n)))
    return path


@settings(max_examples=3, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kills=st.lists(st.integers(min_value=1, max_value=39), min_size=1, max_size=3),
       share=st.sampled_from([0.0, 0.3]))
def test_label_killed_and_rerun_pays_each_stored_answer_once(server, kills, share):
    """``label`` SIGKILLed after k answers reached the cache, then re-run: the answers the
    cache held are not paid for again (only calls in flight at the kill may be), and the
    finished labels equal a fresh labelling of the same pool."""
    FAULTS.share, pool_size = share, 40
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        spec = _write_task(tmp_path / "task", server.base_url)
        pool = _write_pool(tmp_path, pool_size)
        cache = tmp_path / "cache.sqlite"
        out = tmp_path / "labels.jsonl"
        argv = ["label", str(spec), "--pool", str(pool), "--out", str(out), "--cache", str(cache),
                "--concurrency", str(CONCURRENCY), "--max-retries", "3"]
        log_start = len(server.log)
        for k in sorted(kills):
            child = _child(argv, tmp_path / "child.log")
            deadline = time.monotonic() + 60
            while child.poll() is None and time.monotonic() < deadline and _cache_rows(cache) < k:
                time.sleep(0.01)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
            child.wait()
        held_at_last_kill = _cache_rows(cache)
        paid_before = sum(1 for r in list(server.log)[log_start:] if r.outcome == "ok")
        FAULTS.share = 0.0
        assert main(argv) == 0
        paid = [(r.model, r.prompt) for r in list(server.log)[log_start:] if r.outcome == "ok"]
        # Each prompt is paid at most twice, and only answers not yet in the cache at a kill again.
        assert len(set(paid)) == pool_size
        assert len(paid) - pool_size <= paid_before - min(held_at_last_kill, paid_before) + CONCURRENCY * len(kills)
        labelled = [json.loads(line) for line in out.read_text().splitlines()]
        fresh_out = tmp_path / "fresh.jsonl"
        assert main([*argv[:5], str(fresh_out), "--no-cache", "--concurrency", str(CONCURRENCY)]) == 0
        assert labelled == [json.loads(line) for line in fresh_out.read_text().splitlines()]


def _cache_rows(cache: Path) -> int:
    try:
        with sqlite3.connect(cache, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.Error:
        return 0


@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kill_after_polls=st.integers(min_value=0, max_value=3), finish_after=st.integers(min_value=1, max_value=4))
def test_label_batch_killed_while_submitting_or_polling_submits_each_item_once(kill_after_polls, finish_after):
    """``label --batch`` SIGKILLed after a drawn number of status checks (0: as soon as the
    batch exists), its ledger file copied away WITHOUT its -wal and back, then re-run: every
    pool item was submitted exactly once in all, and the labels equal a fresh labelling."""
    import shutil

    from distilleval.testing.batch_servers import BatchServer

    pool_size = 30
    with BatchServer(answer=_label_of, polls_to_finish=10**9) as batch_server, tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        spec = _write_task(tmp_path / "task", batch_server.openai_base)
        pool = _write_pool(tmp_path, pool_size)
        out = tmp_path / "labels.jsonl"
        argv = ["label", str(spec), "--pool", str(pool), "--out", str(out), "--no-cache", "--batch", "--batch-poll", "0.05"]
        child = _child(argv, tmp_path / "child.log")
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            if batch_server.submissions and batch_server.status_checks >= kill_after_polls:
                break
            time.sleep(0.005)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
        # Moving the batch folder to another machine takes the documented ledger file, not SQLite's side files.
        ledger_dir = tmp_path / "labels.batch"
        if ledger_dir.exists():
            moved = tmp_path / "moved"
            moved.mkdir()
            for path in ledger_dir.iterdir():
                if not path.name.endswith(("-wal", "-shm", "-journal")):
                    shutil.copy2(path, moved / path.name)
            shutil.rmtree(ledger_dir)
            moved.rename(ledger_dir)
        batch_server.polls_to_finish = finish_after
        assert main(argv) == 0
        submitted = sum(size for *_, size in batch_server.submissions)
        assert submitted == pool_size, batch_server.submissions
        assert len(out.read_text().splitlines()) == pool_size
