"""`distilleval drift` end to end: an eval run against the local OpenAI-compatible double, then
the same scripted teacher re-asked after it changed some of its answers (or none).

The teacher's change is drawn per item with a seed (each answer changes with probability
``rate``), so which items moved, and how many of the canaries, varies from seed to seed.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

from distilleval.cli.main import main
from distilleval.run.store import RunStore
from distilleval.testing.openai_server import ModelScript, OpenAIServer

LABELS = ["billing", "shipping", "technical"]
ROWS = 420
CANARIES = 200
DENSE = os.environ.get("DISTILLEVAL_DENSE_STATS") == "1"
SEEDS = range(20) if DENSE else range(4)


def number(prompt):
    return int(re.search(r"ticket (\d+)", prompt).group(1))


def gold_of(i):
    return LABELS[i % 3]


def teacher(rate=0.0, seed=0):
    """Right on every item, except that each answer moves to the next label with probability ``rate``."""
    moved = {i for i in range(ROWS) if random.Random(f"{seed}:{i}").random() < rate}
    return lambda prompt: LABELS[(number(prompt) + (1 if number(prompt) in moved else 0)) % 3]


def write_spec(tmp_path, base_url):
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i in range(ROWS):
            handle.write(json.dumps({"id": f"t{i}", "message": f"ticket {i} about my order", "label": gold_of(i)}) + "\n")
    (tmp_path / "spec.yaml").write_text(f"""\
name: routing
data:
  path: data.jsonl
  input: {{text: message}}
  gold: label
  id: id
  split: {{eval_fraction: 0.6}}
output: {{kind: label, labels: [billing, shipping, technical]}}
teacher:
  model: openai/teacher
  prompt: "RUBRIC: route the ticket.\\nTicket: {{text}}"
  api_base: {base_url}
  fast_path: true
  price_as: openai/gpt-4.1-mini
student:
  model: openai/student
  prompt: "{{text}}"
  api_base: {base_url}
  fast_path: true
  price_as: gemini/gemini-2.5-flash
""")
    return tmp_path / "spec.yaml"


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """One eval run of the unchanged teacher and a student, shared by the tests (read only)."""
    folder = tmp_path_factory.mktemp("drift")
    with OpenAIServer() as server:
        server.script("teacher", ModelScript(answer=teacher(), usage=(50, 1)))
        server.script("student", ModelScript(answer=lambda prompt: gold_of(number(prompt)), usage=(10, 1)))
        spec = write_spec(folder, server.base_url)
        run_dir = folder / "run"
        assert main(["eval", str(spec), "--out", str(run_dir), "--no-cache"]) == 0
        yield server, spec, run_dir


def drift(spec, run_dir, out, *extra):
    return main(["drift", str(spec), "--against", str(run_dir), "--out", str(out), "--canaries", str(CANARIES), *extra])


def ok_requests(server, model, start=0):
    return [entry for entry in server.log[start:] if entry.outcome == "ok" and entry.model == model]


def test_a_teacher_that_changed_a_tenth_of_its_answers_is_flagged_and_one_that_changed_none_is_not(earlier_run, tmp_path):
    server, spec, run_dir = earlier_run
    flagged = {0.0: 0, 0.10: 0}
    for seed in SEEDS:
        for rate in flagged:
            server.script("teacher", ModelScript(answer=teacher(rate, seed), usage=(50, 1)))
            code = drift(spec, run_dir, tmp_path / f"d-{seed}-{rate}", "--models", "teacher")
            assert code in (0, 1)
            flagged[rate] += code
    assert flagged == {0.0: 0, 0.10: len(SEEDS)}  # never a false alarm for no change, never a miss at 10%


def test_the_report_shows_the_teacher_moved_while_the_student_did_not(earlier_run, tmp_path, capsys):
    server, spec, run_dir = earlier_run
    server.script("teacher", ModelScript(answer=teacher(0.10, seed=99), usage=(50, 1),
                                         served_model=("teacher-2026-12-01", "fp_new")))
    capsys.readouterr()
    assert drift(spec, run_dir, tmp_path / "d") == 1
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "d" / "drift.json").read_text())
    by_role = {model["role"]: model for model in report["models"]}
    moved = {i for i in range(ROWS) if random.Random(f"99:{i}").random() < 0.10}
    canaries = report["canary_ids"]
    assert len(canaries) == CANARIES
    assert by_role["teacher"]["changed"] == sum(1 for item_id in canaries if int(item_id[1:]) in moved)
    assert not by_role["teacher"]["passed"] and by_role["student"]["passed"]
    assert by_role["student"]["changed"] == 0
    # Every change is a right answer turned wrong: McNemar counts them all on one side.
    assert by_role["teacher"]["correctness"]["right_before_only"] == by_role["teacher"]["changed"]
    assert by_role["teacher"]["correctness"]["right_after_only"] == 0
    assert "teacher-2026-12-01 (fp_new)" in by_role["teacher"]["version_note"]
    assert "FAIL" in printed and "PASS" in printed and "McNemar" in printed


def test_the_canaries_are_the_same_every_time(earlier_run, tmp_path, capsys):
    server, spec, run_dir = earlier_run
    server.script("teacher", ModelScript(answer=teacher(), usage=(50, 1)))
    for name in ("a", "b"):
        assert drift(spec, run_dir, tmp_path / name, "--models", "teacher") == 0
    first, second = (json.loads((tmp_path / name / "drift.json").read_text()) for name in ("a", "b"))
    assert first["canary_ids"] == second["canary_ids"]
    # the folder holds a check of the teacher alone: a check of other roles does not mix into it
    asked = len(server.log)
    assert drift(spec, run_dir, tmp_path / "a") == 2
    assert "holds a drift check of other canaries, roles or run" in capsys.readouterr().err
    assert len(server.log) == asked


def test_dry_run_prices_the_calls_and_calls_nothing(earlier_run, tmp_path, capsys):
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.costs.pricing import load_pricing

    server, spec, run_dir = earlier_run
    before = len(server.log)
    capsys.readouterr()
    assert drift(spec, run_dir, tmp_path / "d", "--dry-run") == 0
    assert len(server.log) == before and not (tmp_path / "d").exists()
    table = load_pricing()
    expected = CANARIES * (request_cost_usd(table.price_for("openai/gpt-4.1-mini"), 50, 1)
                           + request_cost_usd(table.price_for("gemini/gemini-2.5-flash"), 10, 1))
    assert f"{2 * CANARIES} calls to make (cache bypassed), estimated ${expected:.4f}" in capsys.readouterr().out


def test_too_few_canaries_to_ever_pass_is_refused_before_any_call(earlier_run, tmp_path, capsys):
    server, spec, run_dir = earlier_run
    before = len(server.log)
    assert main(["drift", str(spec), "--against", str(run_dir), "--out", str(tmp_path / "d"), "--canaries", "40"]) == 2
    assert "at least 59 are needed" in capsys.readouterr().err
    assert len(server.log) == before


def test_a_killed_check_resumes_without_paying_for_any_answer_twice(earlier_run, tmp_path):
    server, spec, run_dir = earlier_run
    server.script("teacher", ModelScript(answer=teacher(), usage=(50, 1), delay_ms=15))
    start = len(server.log)
    out = tmp_path / "d"
    command = [sys.executable, "-m", "distilleval", "drift", str(spec), "--against", str(run_dir), "--out", str(out),
               "--canaries", str(CANARIES), "--models", "teacher", "--concurrency", "2"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(ok_requests(server, "teacher", start)) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with RunStore(out) as store:
        paid_before_kill = {r.item_id for r in store.results("teacher") if r.ok}
    assert 0 < len(paid_before_kill) < CANARIES

    middle = len(server.log)
    assert drift(spec, run_dir, out, "--models", "teacher") == 0
    asked_again = [f"t{number(entry.prompt)}" for entry in server.log[middle:] if entry.outcome == "ok"]
    assert not set(asked_again) & paid_before_kill  # no stored answer was bought twice
    assert len(asked_again) == CANARIES - len(paid_before_kill)
    assert drift(spec, run_dir, out, "--models", "teacher") == 0  # a finished check compares again at $0
    assert len(server.log) == middle + len(asked_again)


def test_a_spec_that_now_sends_other_requests_is_refused_before_any_call(earlier_run, tmp_path, capsys):
    server, spec, run_dir = earlier_run
    edited = tmp_path / "spec.yaml"
    edited.write_text(spec.read_text().replace("RUBRIC: route the ticket.", "RUBRIC v2: route the ticket."))
    (tmp_path / "data.jsonl").write_text((spec.parent / "data.jsonl").read_text())
    before = len(server.log)
    assert main(["drift", str(edited), "--against", str(run_dir), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "the teacher's prompt changed since that run" in err and len(err.strip().splitlines()) == 1
    assert len(server.log) == before
