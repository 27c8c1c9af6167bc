"""`distilleval label` end to end: real HTTP to the local OpenAI-compatible server, a scripted
teacher that is wrong or invalid on some items, quarantine, counts, measured cost, cache."""

import json
import re

import pytest

from distilleval.cli.main import main
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import load_pricing
from distilleval.testing.openai_server import ModelScript, OpenAIServer

LABELS = ["billing", "shipping", "technical"]
PRICE_AS = "openai/gpt-4.1-mini"
USAGE = (100, 2)  # tokens the server reports per call


def gold_of(i: int) -> str:
    return LABELS[i % 3]


def teacher_answer(prompt: str) -> str:
    """Right on most items; invalid on i % 10 == 3, wrong-but-valid on i % 10 == 7."""
    i = int(re.search(r"ticket (\d+)", prompt).group(1))
    if i % 10 == 3:
        return "I think this is about money"
    if i % 10 == 7:
        return LABELS[(i + 1) % 3]
    return f"  {gold_of(i).upper()}\n" if i % 10 == 5 else gold_of(i)


def write_spec(tmp_path, base_url, *, rows=200, student_system=None, extra=""):
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i in range(rows):
            handle.write(json.dumps({"id": f"t{i}", "message": f"ticket {i} about my order", "label": gold_of(i)}) + "\n")
    system = f"\n  system: {student_system}" if student_system else ""
    (tmp_path / "spec.yaml").write_text(
        f"""\
name: routing
data:
  path: data.jsonl
  input: {{text: message}}
  gold: label
  id: id
  split: {{eval_fraction: 0.01}}
output:
  kind: label
  labels: [billing, shipping, technical]
scorer:
  kind: exact_match
  normalize: {{case: true, whitespace: true}}
teacher:
  model: openai/teacher
  prompt: "RUBRIC: route the ticket to billing, shipping or technical.\\nTicket: {{text}}"
  api_base: {base_url}
  fast_path: true
  price_as: {PRICE_AS}
  max_tokens: 8
student:
  model: tinker://run/sampler_weights/final
  prompt: "{{text}}"{system}
{extra}"""
    )
    return tmp_path / "spec.yaml"


@pytest.fixture
def server():
    with OpenAIServer() as running:
        running.script("teacher", ModelScript(answer=teacher_answer, usage=USAGE))
        yield running


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_label_200_items_quarantines_invalid_and_counts_cost(tmp_path, server, capsys):
    pool = tmp_path / "pool.jsonl"
    with pool.open("w") as handle:
        for i in range(200):
            handle.write(json.dumps({"id": f"p{i}", "message": f"ticket {i} about my order"}) + "\n")
    spec = write_spec(tmp_path, server.base_url, rows=5)
    out = tmp_path / "labels.jsonl"
    cache = tmp_path / "cache.sqlite"
    argv = ["label", str(spec), "--pool", str(pool), "--out", str(out), "--cache", str(cache)]
    assert main(argv) == 0

    rows = read_jsonl(out)
    quarantined = read_jsonl(tmp_path / "labels.quarantine.jsonl")
    assert len(rows) == 180 and len(quarantined) == 20
    assert {q["reason"] for q in quarantined} == {"invalid_label"}
    assert sorted(int(q["id"][1:]) % 10 for q in quarantined) == [3] * 20
    p3 = next(q for q in quarantined if q["id"] == "p3")
    assert p3["output"] == "I think this is about money"
    assert p3["line"] == 4  # p3 is on line 4 of the pool
    # short format: raw input as the student sees it (no rubric), canonical label
    first = next(row["messages"] for row in rows if row["messages"][0]["content"] == "ticket 0 about my order")
    assert first == [{"role": "user", "content": "ticket 0 about my order"}, {"role": "assistant", "content": "billing"}]
    assert all("RUBRIC" not in row["messages"][0]["content"] for row in rows)
    by_ticket = {int(re.search(r"ticket (\d+)", r["messages"][0]["content"]).group(1)): r["messages"][1]["content"] for r in rows}
    assert by_ticket[5] == "technical"  # "  TECHNICAL\n" normalised to the label set's spelling
    assert by_ticket[7] == "technical" != gold_of(7)  # wrong but valid: label cannot know (validate does)

    price = load_pricing().price_for(PRICE_AS)
    per_call = (USAGE[0] * price.input_per_mtok_usd + USAGE[1] * price.output_per_mtok_usd) / 1e6
    summary = json.loads((tmp_path / "labels.summary.json").read_text())
    assert summary["spent_usd"] == pytest.approx(200 * per_call)
    assert summary["labelling_cost_per_example_usd"] == pytest.approx(per_call)
    assert (summary["items"], summary["labelled"], summary["quarantined"]) == (200, 180, 20)
    printed = capsys.readouterr().out
    assert "labelled 180 of 200 items" in printed
    assert "quarantined 20 (invalid_label 20)" in printed
    assert f"${200 * per_call:.4f} this run" in printed
    assert len(server.requests_for("teacher", "ok")) == 200

    # a second run replays the cache: same files, nothing spent, no new requests
    server.clear_log()
    assert main(argv) == 0
    assert read_jsonl(out) == rows
    again = json.loads((tmp_path / "labels.summary.json").read_text())
    assert again["spent_usd"] == 0 and again["cache_hits"] == 200
    assert server.requests_for("teacher") == []


def test_label_defaults_to_the_train_split_and_keeps_student_system(tmp_path, server):
    spec = write_spec(tmp_path, server.base_url, rows=30, student_system="Route it.")
    out = tmp_path / "l.jsonl"
    assert main(["label", str(spec), "--out", str(out), "--no-cache", "--limit", "10"]) == 0
    rows = read_jsonl(out)
    quarantined = read_jsonl(tmp_path / "l.quarantine.jsonl")
    assert len(rows) + len(quarantined) == 10
    assert rows[0]["messages"][0] == {"role": "system", "content": "Route it."}
    assert [m["role"] for m in rows[0]["messages"]] == ["system", "user", "assistant"]


def test_failed_calls_are_quarantined_with_their_kind(tmp_path):
    with OpenAIServer() as server:
        def answer(prompt):
            i = int(re.search(r"ticket (\d+)", prompt).group(1))
            return "billing" if i != 4 else "x" * 10
        server.script("teacher", ModelScript(answer=answer, usage=USAGE,
                      faults=lambda prompt, attempt: "server_error" if "ticket 2 " in prompt else None))
        spec = write_spec(tmp_path, server.base_url, rows=6)
        pool = tmp_path / "pool.jsonl"
        pool.write_text("".join(json.dumps({"id": f"p{i}", "message": f"ticket {i} about x"}) + "\n" for i in range(6)))
        out = tmp_path / "l.jsonl"
        assert main(["label", str(spec), "--pool", str(pool), "--out", str(out), "--no-cache", "--max-retries", "1"]) == 0
        assert len(server.requests_for("teacher", "server_error")) == 2  # first try + one retry
    quarantined = {q["id"]: q["reason"] for q in read_jsonl(tmp_path / "l.quarantine.jsonl")}
    assert quarantined == {"p2": "call_failed:unavailable", "p4": "invalid_label"}
    assert len(read_jsonl(out)) == 4


def test_all_invalid_exits_1(tmp_path):
    with OpenAIServer() as server:
        server.script("teacher", ModelScript(answer="no idea", usage=USAGE))
        spec = write_spec(tmp_path, server.base_url, rows=20)
        out = tmp_path / "l.jsonl"
        assert main(["label", str(spec), "--out", str(out), "--no-cache"]) == 1
    assert out.read_text() == ""


def test_bad_pool_line_exits_2_and_writes_nothing(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url, rows=5)
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id": "a", "message": "ticket 1"}\n{"id": "b"}\n')
    out = tmp_path / "l.jsonl"
    assert main(["label", str(spec), "--pool", str(pool), "--out", str(out), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert f"{pool}:2: column 'message'" in err
    assert not out.exists()
    assert server.requests_for("teacher") == []


# -- --batch: the teacher's provider batch API -----------------------------------------------


def write_pool(tmp_path, n):
    pool = tmp_path / "pool.jsonl"
    with pool.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"p{i}", "message": f"ticket {i} about my order"}) + "\n")
    return pool


def test_label_batch_labels_at_the_batch_price_and_serves_the_cache(tmp_path, capsys):
    from distilleval.testing.batch_servers import BatchServer

    with BatchServer(answer=teacher_answer, polls_to_finish=1, fails=lambda p: "ticket 11 " in p) as server:
        spec = write_spec(tmp_path, server.openai_base, rows=5)
        out, cache = tmp_path / "labels.jsonl", tmp_path / "cache.sqlite"
        argv = ["label", str(spec), "--pool", str(write_pool(tmp_path, 40)), "--out", str(out), "--cache", str(cache),
                "--batch", "--batch-poll", "0.01"]
        assert main(argv) == 0
        summary = json.loads((tmp_path / "labels.summary.json").read_text())
        # 40 items: 4 invalid (i % 10 == 3), 1 failed call (ticket 11)
        assert (summary["labelled"], summary["quarantined"], summary["batch_api"]) == (35, 5, True)
        assert summary["reasons"] == {"invalid_label": 4, "call_failed:bad_request": 1}
        price = load_pricing().price_for(PRICE_AS)
        # the server counts one token per word of the prompt and of the answer
        words_in = len("RUBRIC: route the ticket to billing, shipping or technical.\nTicket: ticket 1 about my order".split())
        words_out = sum(len(teacher_answer(f"ticket {i} x").split()) for i in range(40) if i != 11)
        expected = request_cost_usd(price, 39 * words_in, words_out, batch=True)
        assert summary["spent_usd"] == pytest.approx(expected)
        assert summary["spent_usd"] == pytest.approx(request_cost_usd(price, 39 * words_in, words_out) / 2)
        assert "through its batch API" in capsys.readouterr().out

        # A new labelling of the same pool (fresh batch folder): every answer is in the cache; only the failure goes out.
        out2 = tmp_path / "again.jsonl"
        assert main([*argv[:5], str(out2), *argv[6:]]) == 0
        assert [size for _, _, size in server.submissions] == [40, 1]
        again = json.loads((tmp_path / "again.summary.json").read_text())
        assert (again["cache_hits"], again["labelled"]) == (39, 35)


def test_label_batch_killed_while_polling_resumes_the_same_batch(tmp_path):
    """A real child process is SIGKILLed while it polls; the re-run polls the same batch and
    writes every item, without a second submission."""
    from distilleval.run.batch_ledger import BatchLedger
    from distilleval.testing.batch_servers import BatchServer, kill_while_polling

    with BatchServer(answer=teacher_answer, polls_to_finish=10**9) as server:
        spec = write_spec(tmp_path, server.openai_base, rows=5)
        out = tmp_path / "labels.jsonl"
        argv = ["label", str(spec), "--pool", str(write_pool(tmp_path, 30)), "--out", str(out),
                "--cache", str(tmp_path / "cache.sqlite"), "--batch", "--batch-poll", "0.05"]
        kill_while_polling(argv, server)
        assert not out.exists()  # killed before any result: nothing half-written
        with BatchLedger(tmp_path / "labels.batch" / "records.sqlite") as ledger:
            (job,) = ledger.jobs("teacher")
        assert job.batch_id == server.submissions[0][1] and not job.collected

        server.polls_to_finish = 0  # the provider finishes the batch while nobody is polling
        assert main(argv) == 0
        assert len(server.submissions) == 1
    summary = json.loads((tmp_path / "labels.summary.json").read_text())
    assert (summary["items"], summary["labelled"], summary["quarantined"]) == (30, 27, 3)


def test_label_batch_names_a_model_without_a_batch_api(tmp_path, capsys):
    spec = write_spec(tmp_path, "http://127.0.0.1:9/v1", rows=5)
    spec.write_text(spec.read_text().replace("model: openai/teacher", "model: gemini/teacher"))
    assert main(["label", str(spec), "--pool", str(write_pool(tmp_path, 3)), "--batch", "--no-cache"]) == 2
    assert "'gemini/teacher' has no provider batch API" in capsys.readouterr().err


# -- nothing is paid for when the output has nowhere to go; a batch folder is continued only with its inputs ----


@pytest.mark.parametrize("where", ["a file as folder", "read-only folder"])
def test_an_unwritable_out_is_one_line_before_any_call(tmp_path, server, capsys, where):
    from tests.file_faults import read_only_folder

    spec = write_spec(tmp_path, server.base_url, rows=5)
    pool = write_pool(tmp_path, 35)
    if where == "a file as folder":
        (tmp_path / "labels").write_text("a file")
        out = tmp_path / "labels" / "out.jsonl"
        assert main(["label", str(spec), "--pool", str(pool), "--out", str(out), "--no-cache"]) == 2
    else:
        (tmp_path / "locked").mkdir()
        out = tmp_path / "locked" / "out.jsonl"
        with read_only_folder(tmp_path / "locked"):
            assert main(["label", str(spec), "--pool", str(pool), "--out", str(out), "--no-cache"]) == 2
    assert server.log == []  # nothing was called, so nothing was paid
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"distilleval label: error: {out}: cannot write here (") and "nothing was called" in err
    assert "\n" not in err and "Traceback" not in err


def test_label_batch_refuses_to_collect_batches_for_a_changed_rubric(tmp_path, capsys):
    from distilleval.testing.batch_servers import BatchServer, kill_while_polling

    with BatchServer(answer=teacher_answer, polls_to_finish=10**9) as server:
        spec = write_spec(tmp_path, server.openai_base, rows=5)
        out = tmp_path / "labels.jsonl"
        argv = ["label", str(spec), "--pool", str(write_pool(tmp_path, 12)), "--out", str(out),
                "--cache", str(tmp_path / "cache.sqlite"), "--batch", "--batch-poll", "0.05"]
        kill_while_polling(argv, server)
        spec.write_text(spec.read_text().replace("RUBRIC: route the ticket", "RUBRIC: please route the ticket"))
        server.polls_to_finish = 0
        assert main(argv) == 2
        assert len(server.submissions) == 1
    err = capsys.readouterr().err.strip()
    assert "the teacher's prompt changed since this run started" in err and "\n" not in err
    assert not out.exists()  # no labels from the old rubric written as if from the new one


def test_label_batch_killed_then_copied_without_its_wal_file_submits_nothing_again(tmp_path):
    from distilleval.testing.batch_servers import BatchServer, kill_while_polling

    with BatchServer(answer=teacher_answer, polls_to_finish=10**9) as server:
        spec = write_spec(tmp_path, server.openai_base, rows=5)
        out = tmp_path / "labels.jsonl"
        argv = ["label", str(spec), "--pool", str(write_pool(tmp_path, 20)), "--out", str(out),
                "--cache", str(tmp_path / "cache.sqlite"), "--batch", "--batch-poll", "0.05"]
        kill_while_polling(argv, server)
        for leftover in (tmp_path / "labels.batch").glob("records.sqlite-*"):
            leftover.unlink()  # the -wal and -shm files did not travel with the folder
        server.polls_to_finish = 0
        assert main(argv) == 0
        assert len(server.submissions) == 1
    summary = json.loads((tmp_path / "labels.summary.json").read_text())
    assert summary["items"] == 20 and summary["labelled"] + summary["quarantined"] == 20


def test_label_interrupted_says_how_to_continue_and_the_rerun_pays_only_what_was_not_answered(tmp_path, capsys):
    import os
    import shlex
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.commands.test_eval import sigint_as_at_a_terminal

    repo = Path(__file__).resolve().parents[2]
    with OpenAIServer() as server:
        server.script("teacher", ModelScript(answer=teacher_answer, usage=USAGE, delay_ms=150))
        spec = write_spec(tmp_path, server.base_url, rows=5)
        argv = ["label", str(spec), "--pool", str(write_pool(tmp_path, 40)), "--out", str(tmp_path / "labels.jsonl"),
                "--cache", str(tmp_path / "cache.sqlite"), "--concurrency", "4"]
        child = subprocess.Popen([sys.executable, "-m", "distilleval", *argv], env={**os.environ, "PYTHONPATH": str(repo)},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                 preexec_fn=sigint_as_at_a_terminal)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(r.outcome == "ok" for r in server.log) < 8:
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGINT)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 130, err
        assert "Traceback" not in err
        [line] = [line for line in err.splitlines() if line.strip()]
        assert line.startswith("distilleval label: interrupted; run the same command again to continue")
        command = shlex.split(line.split("): ", 1)[1])
        assert command == ["distilleval", *argv]
        paid_before = {r.prompt for r in server.log if r.outcome == "ok"}
        stopped_at = len(server.log)
        assert main(command[1:]) == 0
        asked_again = {r.prompt for r in server.log[stopped_at:]}
    assert len(paid_before) >= 8 and len(asked_again & paid_before) <= 4  # at most the calls in flight at the stop
    assert len(paid_before | asked_again) == 40


def test_a_candidate_labels_for_training_only_when_it_says_so(tmp_path, server):
    # A candidate answers "shipping" to everything; the teacher answers per teacher_answer.
    server.script("mini", ModelScript(answer="shipping", usage=USAGE))
    candidate = (f"candidates:\n  - {{name: mini, model: openai/mini, api_base: {server.base_url}, fast_path: true, "
                 f"price_as: {PRICE_AS}, max_tokens: 8, label_for_training: LABELS}}\n")
    for labels_for_training, expected_model in (("false", "teacher"), ("true", "mini")):
        folder = tmp_path / labels_for_training
        folder.mkdir()
        spec = write_spec(folder, server.base_url, rows=12, extra=candidate.replace("LABELS", labels_for_training))
        server.clear_log()
        assert main(["label", str(spec), "--out", str(folder / "l.jsonl"), "--no-cache"]) == 0
        assert {r.model for r in server.log} == {expected_model}
        # The candidate was sent the teacher's rubric (its default prompt), and its answers are the labels.
        assert all(r.prompt.startswith("RUBRIC") for r in server.log)
        labels = {row["messages"][1]["content"] for row in read_jsonl(folder / "l.jsonl")}
        assert (labels == {"shipping"}) == (expected_model == "mini")
        assert json.loads((folder / "l.summary.json").read_text())["labelled_by"] == expected_model


def test_duplicated_pool_rows_are_labelled_with_one_warning_line(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url, rows=10)
    pool = tmp_path / "pool.jsonl"
    messages = ["ticket 1 a", "ticket 2 b", "ticket 3 c", "ticket 2 b", "ticket 5 e", "ticket 6 f", "ticket 2 b", "ticket 5 e"]
    pool.write_text("".join(json.dumps({"id": f"p{line}", "message": text}) + "\n" for line, text in enumerate(messages, 1)))
    out = tmp_path / "l.jsonl"
    assert main(["label", str(spec), "--pool", str(pool), "--out", str(out), "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert err == (f"distilleval label: warning: {pool}: 3 training rows repeat an earlier row's inputs "
                   "(first: line 4, id 'p4', same inputs as line 2); kept, so each copy is trained on\n")
    assert len(read_jsonl(out)) + len(read_jsonl(tmp_path / "l.quarantine.jsonl")) == 8  # nothing dropped
    pool.write_text("".join(json.dumps({"id": f"p{n}", "message": f"ticket {n}"}) + "\n" for n in range(4)))
    assert main(["label", str(spec), "--pool", str(pool), "--out", str(out), "--no-cache"]) == 0
    assert "warning" not in capsys.readouterr().err
