"""`distilleval run`: the offline pipeline end to end on the example specs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary

REPO = Path(__file__).resolve().parents[2]
# A judge-scored example (support_reply) stops offline with one line: tests/test_example_specs.py checks it.
EXAMPLES = sorted(path.parent.name for path in (REPO / "specs").glob("*/spec.yaml")
                  if "kind: judge" not in path.read_text())
PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "TINKER_API_KEY")


@pytest.fixture(autouse=True)
def no_network_no_keys(monkeypatch):
    """Offline means offline: any connection attempt fails the test."""
    for name in PROVIDER_KEYS:
        monkeypatch.delenv(name, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access during an offline run: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _run_dir(runs: Path) -> Path:
    (only,) = [path for path in runs.iterdir() if path.is_dir()]
    return only


def test_ticket_routing_offline_end_to_end(tmp_path, capsys):
    runs = tmp_path / "runs"
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "60"]) == 0
    run_dir = _run_dir(runs)
    summary = read_summary(run_dir)
    assert summary.mode == "offline" and summary.label_source == "reference"
    assert summary.n_items == 60
    # Baselines really ran: measured, scored on every item, timed per item.
    for name in ("tfidf_logreg", "wordllama_logreg"):
        result = summary.models[name]
        assert result.basis == "measured" and result.n_scored == 60
        assert 0.2 < result.metric.value <= 1.0
        assert result.latency_ms.n == 60 and result.cost_per_request_usd > 0
    # Teacher and student were not called: no metric, costs projected from measured prompt tokens.
    for role in ("teacher", "student"):
        result = summary.models[role]
        assert result.basis == "projected" and result.metric is None
        # Priced on every item of the data file, as estimate and cost SPEC price it (not the 60 evaluated).
        assert result.cost_per_request_usd > 0 and result.input_tokens.n == 480
    assert summary.models["teacher"].input_tokens.mean > 20 * summary.models["student"].input_tokens.mean
    assert (run_dir / "report.md").read_text().count("projected") > 3
    assert "<svg" in (run_dir / "report.html").read_text()
    out = capsys.readouterr().out
    assert "reference labels" in out and "tfidf_logreg" in out


def test_second_run_reuses_current_outputs_and_force_redoes(tmp_path, capsys):
    runs = tmp_path / "runs"
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    args = ["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "30"]
    assert main(args) == 0
    summary_path = _run_dir(runs) / "summary.json"
    first = summary_path.read_text()
    capsys.readouterr()
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert summary_path.read_text() == first
    assert main(args + ["--force"]) == 0
    assert "up to date" not in capsys.readouterr().out
    assert json.loads(summary_path.read_text())["created_at"] >= json.loads(first)["created_at"]


def test_changed_input_makes_a_new_run(tmp_path):
    runs = tmp_path / "runs"
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "20"]) == 0
    assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "21"]) == 0
    assert len([p for p in runs.iterdir() if p.is_dir()]) == 2


def test_missing_keys_switch_to_offline_with_one_line_notice(tmp_path, capsys):
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    assert main(["run", spec, "--runs-dir", str(tmp_path), "--limit", "20"]) == 0
    notice, *rest = capsys.readouterr().err.splitlines()
    assert "no key for teacher (OPENAI_API_KEY)" in notice and "running offline" in notice
    # The shipped data repeats one training ticket (lines 230 and 235): the only other line is that warning.
    assert [line.split(": ", 2)[1] for line in rest] == ["warning"]


@pytest.mark.parametrize("case", EXAMPLES)
def test_every_example_spec_runs_offline(tmp_path, case):
    assert main(["run", str(REPO / "specs" / case / "spec.yaml"), "--offline", "--runs-dir", str(tmp_path), "--limit", "12"]) == 0
    summary = read_summary(_run_dir(tmp_path))
    assert summary.models["teacher"].cost_per_request_usd > summary.models["student"].cost_per_request_usd
    assert (_run_dir(tmp_path) / "report.md").is_file()


def test_bad_spec_is_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "spec.yaml"
    bad.write_text("name: x\n")
    assert main(["run", str(bad), "--offline", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()
    assert str(bad) in capsys.readouterr().err


def test_a_second_run_into_the_same_run_directory_is_refused(tmp_path, capsys):
    # Two runs of one spec share a run directory (named after their inputs); they must not
    # interleave their files. The first is stood in for by holding the directory's lock.
    from distilleval.pipeline.plan import locked

    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    runs = tmp_path / "runs"
    assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "20"]) == 0
    run_dir = _run_dir(runs)
    summary = (run_dir / "summary.json").read_bytes()
    capsys.readouterr()
    with locked(run_dir):
        assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "20", "--force"]) == 2
    # One line, after the shipped data's one warning (a repeated training ticket, lines 230 and 235).
    warning, err = capsys.readouterr().err.splitlines()
    assert warning.startswith("distilleval run: warning: ") and "first: line 235" in warning
    assert f"{run_dir}: another distilleval process (pid " in err
    assert (run_dir / "summary.json").read_bytes() == summary


def _online_spec(tmp_path: Path, base_url: str) -> Path:
    """ticket_routing with teacher and student served by the local OpenAI-compatible server."""
    import shutil

    import yaml

    source = REPO / "specs" / "ticket_routing"
    for name in ("data.jsonl", "rubric.md"):
        shutil.copy(source / name, tmp_path / name)
    spec = yaml.safe_load((source / "spec.yaml").read_text())
    spec["pricing"] = str(REPO / "pricing" / "2026-02.yaml")
    common = {"api_base": base_url, "api_key_env": "LOCAL_TEST_KEY"}
    spec["teacher"].update(model="openai/teacher", price_as="openai/gpt-5.2", **common)
    spec["student"].update(model="openai/student", price_as="tinker/lora", fast_path=True, **common)
    # Teacher and student only: the example's prompted candidate and cascade are tested in
    # tests/pipeline/test_evaluate_candidates.py (here the candidate would need a key of its own).
    spec.pop("candidates", None)
    spec.pop("cascades", None)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_online_pipeline_against_a_local_server_and_free_rerun(tmp_path, monkeypatch, capsys):
    from distilleval.testing.openai_server import ModelScript, OpenAIServer

    monkeypatch.undo()  # this test needs loopback HTTP
    monkeypatch.setenv("LOCAL_TEST_KEY", "sk-local-test-0000")
    monkeypatch.setenv("DISTILLEVAL_CACHE", str(tmp_path / "cache.sqlite"))
    gold = {
        json.loads(line)["message"]: json.loads(line)["label"]
        for line in (REPO / "specs" / "ticket_routing" / "data.jsonl").read_text().splitlines()
    }

    def teacher(prompt: str) -> str:
        message = prompt.rsplit("Message: ", 1)[1].rsplit("\nQueue:", 1)[0]
        return gold[message]

    def student(prompt: str) -> str:
        label = gold[prompt]
        return label if len(prompt) % 7 else "other"  # wrong on about one item in seven

    with OpenAIServer(api_key="sk-local-test-0000") as server:
        server.script("teacher", ModelScript(answer=teacher))
        server.script("student", ModelScript(answer=student))
        spec = _online_spec(tmp_path, server.base_url)
        args = ["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--limit", "40"]
        assert main(args) == 0
        first_paid = sum(1 for r in server.log if r.outcome == "ok")
        out = capsys.readouterr().out
        assert main(args) == 0
        second_paid = sum(1 for r in server.log if r.outcome == "ok") - first_paid

    run_dir = _run_dir(tmp_path / "runs")
    labels = (run_dir / "labels.jsonl").read_text().splitlines()
    assert len(labels) == 352  # the whole train split, labelled by the teacher
    assert json.loads((run_dir / "validate.json").read_text())
    summary = read_summary(run_dir / "eval")
    assert summary.mode == "online"
    assert summary.models["teacher"].basis == "measured" and summary.models["teacher"].metric.value == 1.0
    # validate made the teacher's eval calls, so eval served them from the cache: the latency
    # measured where they were made is reported, marked as the original calls'.
    teacher = summary.models["teacher"]
    assert teacher.cache_hits == 40 and teacher.latency_ms is None and teacher.latency.original_ms.n == 40
    assert "original calls, served from the cache" in (run_dir / "eval" / "report.md").read_text()
    assert 0.6 < summary.models["student"].metric.value < 1.0
    assert {"tfidf_logreg", "wordllama_logreg"} <= set(summary.models)
    assert "train     skipped: the student (openai/student) is served by its provider" in out
    # The provider-hosted student was never trained here: the report must not say it was.
    assert summary.student_training is None
    assert "trained on the teacher's labels" not in (run_dir / "eval" / "report.md").read_text()
    assert (run_dir / "eval" / "report.html").is_file()
    # 352 labels + 40 validation + 80 eval calls the first time; the re-run is served from the cache.
    assert first_paid >= 352 + 40
    assert second_paid == 0
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert b"sk-local-test-0000" not in path.read_bytes(), path


def _broken_ticket_routing(tmp_path: Path, *, data_edit=None, spec_edit=None) -> Path:
    import shutil

    folder = tmp_path / "ticket_routing"
    shutil.copytree(REPO / "specs" / "ticket_routing", folder)
    if data_edit:
        data = folder / "data.jsonl"
        data.write_text(data_edit(data.read_text()))
    spec = folder / "spec.yaml"
    text = spec.read_text().replace("pricing: ../../pricing/", f"pricing: {REPO}/pricing/")
    spec.write_text(spec_edit(text) if spec_edit else text)
    return spec


def _last_test_row_to(label: str):
    def edit(text: str) -> str:
        lines = text.splitlines()
        index = max(i for i, line in enumerate(lines) if '"split": "test"' in line)
        record = json.loads(lines[index])
        record["label"] = label
        lines[index] = json.dumps(record)
        return "\n".join(lines) + "\n"

    return edit


@pytest.mark.parametrize(
    ("edits", "file", "needle", "expected"),
    [
        # An eval row's gold outside output.labels: named at load, before the baselines train.
        ({"data_edit": _last_test_row_to("refunds")}, "data.jsonl", '"refunds"',
         "column 'label': gold 'refunds' is not one of output.labels"),
        # A teacher with no price: named with the spec's line, before any training.
        ({"spec_edit": lambda text: text.replace("model: openai/gpt-5.2", "model: acme/frontier-9")}, "spec.yaml",
         "acme/frontier-9", "teacher.model: model 'acme/frontier-9' has no price in"),
        ({"spec_edit": lambda text: text.replace("gold: label", "gold: intent")}, "spec.yaml", "gold: intent",
         "data.gold: column 'intent' is in no record of"),
    ],
    ids=["gold-not-a-label", "unpriced-teacher", "misspelt-gold-column"],
)
def test_data_and_pricing_mistakes_fail_at_load_leaving_nothing(tmp_path, capsys, edits, file, needle, expected):
    spec = _broken_ticket_routing(tmp_path, **edits)
    runs = tmp_path / "runs"
    source = spec.parent / file
    line = next(n for n, text in enumerate(source.read_text().splitlines(), 1) if needle in text)
    expected = f"{source}:{line}: {expected}"
    assert main(["run", str(spec), "--offline", "--runs-dir", str(runs)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and expected in captured.err, captured.err
    assert "trained on" not in captured.out  # no baseline was trained
    assert not runs.exists() or not any(runs.iterdir())


def test_a_run_that_fails_midway_leaves_no_run_directory(tmp_path, monkeypatch):
    import distilleval.pipeline.offline as offline

    def fail(*args, **kwargs):
        raise RuntimeError("baseline crashed")

    monkeypatch.setattr(offline, "baseline_runs", fail)
    runs = tmp_path / "runs"
    with pytest.raises(RuntimeError):
        main(["run", str(REPO / "specs" / "ticket_routing" / "spec.yaml"), "--offline", "--runs-dir", str(runs)])
    assert list(runs.iterdir()) == []


def test_online_run_exits_1_when_a_model_fails_too_often_and_its_rerun_recalls_only_the_failed_items(
        tmp_path, monkeypatch, capsys):
    import shlex

    from distilleval.testing.openai_server import ModelScript, OpenAIServer

    monkeypatch.undo()  # this test needs loopback HTTP
    monkeypatch.setenv("LOCAL_TEST_KEY", "sk-local-test-0000")
    monkeypatch.setenv("DISTILLEVAL_CACHE", str(tmp_path / "cache.sqlite"))
    records = [json.loads(line) for line in (REPO / "specs" / "ticket_routing" / "data.jsonl").read_text().splitlines()]
    gold = {record["message"]: record["label"] for record in records}

    def teacher(prompt: str) -> str:
        return gold[prompt.rsplit("Message: ", 1)[1].rsplit("\nQueue:", 1)[0]]

    def student(prompt: str) -> str:
        return gold[prompt]

    def rate_limited(prompt: str, attempt: int) -> str | None:
        return "rate_limit" if len(prompt) % 6 == 0 else None  # every attempt: retries do not help

    with OpenAIServer(api_key="sk-local-test-0000") as server:
        server.script("teacher", ModelScript(answer=teacher))
        server.script("student", ModelScript(answer=student, faults=rate_limited, retry_after_s=0.01))
        spec = _online_spec(tmp_path, server.base_url)
        runs = tmp_path / "runs"
        assert main(["run", str(spec), "--runs-dir", str(runs), "--limit", "40"]) == 1
        first = list(server.log)
        out = capsys.readouterr().out

        run_dir = _run_dir(runs)
        summary = read_summary(run_dir / "eval")
        failed = {item.id for item in iter_items(summary) if "student" in item.errors}
        k = len(failed)
        limited = {r.prompt for r in first if r.model == "student" and r.outcome == "rate_limit"}
        assert k == len(limited) and k / 40 > 0.01  # above the spec's gates.max_error_rate (1%)
        assert summary.models["student"].errors == {"rate_limited": k}
        # Everything is written before the exit: the eval's summary and its reports.
        assert (run_dir / "eval" / "report.md").is_file() and (run_dir / "eval" / "report.html").is_file()
        assert "\nverdict: " in out
        # eval's lines, word for word: failures by kind, then the limit and how to continue.
        assert (f"  student: {k} of 40 calls failed (rate_limited {k}), error rate {k / 40:.1%} > limit 1.0%; "
                f"its metric is over the {40 - k} answered items") in out
        assert out.count(" calls failed (") == 1  # the teacher, without failed calls, gets no line
        rerun = shlex.join(["distilleval", "run", str(spec), "--limit", "40", "--runs-dir", str(runs)])
        assert out.rstrip().endswith(
            "distilleval run: student failed more than 1.0% of calls (gates.max_error_rate): the run is written "
            f"but not judged; fix the cause, then `{rerun}` re-calls only the failed items")

        # The cause fixed, the printed command continues the same run and pays only the failed calls.
        server.script("student", ModelScript(answer=student))
        assert main(shlex.split(rerun)[1:]) == 0
        second = server.log[len(first):]
    assert "calls failed" not in capsys.readouterr().out
    paid = [r for r in second if r.outcome == "ok"]
    assert sorted(r.prompt for r in paid if r.model == "student") == sorted(limited)
    assert not [r for r in paid if r.model == "teacher"]
    assert _run_dir(runs) == run_dir
    after = read_summary(run_dir / "eval")
    assert after.models["student"].errors == {} and after.models["student"].n_scored == 40


def _duplicated_train_rows(text: str) -> str:
    """The data with its one repeated training ticket made unique, then the first training row given twice
    more under new ids at the end, and once more in the test split (eval rows are not training rows)."""
    lines = text.splitlines()
    first = json.loads(lines[0])
    assert first["split"] == "train"
    repeat = json.loads(lines[234])
    assert repeat["message"] == json.loads(lines[229])["message"]
    lines[234] = json.dumps({**repeat, "message": repeat["message"] + " (again)"})
    extra = [{**first, "id": "dup-1"}, {**first, "id": "dup-2"}, {**first, "id": "dup-3", "split": "test"}]
    return "\n".join(lines + [json.dumps(record) for record in extra]) + "\n"


def test_duplicated_training_rows_are_kept_with_one_warning_line(tmp_path, capsys):
    spec = _broken_ticket_routing(tmp_path, data_edit=_duplicated_train_rows)
    data = spec.parent / "data.jsonl"
    n_lines = len(data.read_text().splitlines())
    assert main(["run", str(spec), "--offline", "--runs-dir", str(tmp_path / "runs"), "--limit", "20"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"distilleval run: warning: {data} (train split): 2 training rows repeat an earlier row's inputs "
        f"(first: line {n_lines - 2}, id 'dup-1', same inputs as line 1); kept, so each copy is trained on\n"
    )
    n_train = sum(1 for line in data.read_text().splitlines() if '"split": "train"' in line)
    assert f"tfidf_logreg: trained on {n_train} items" in captured.out  # warned, not dropped


def test_an_offline_run_loads_the_items_once(tmp_path, monkeypatch):
    # The checks before the run load the items; the offline pipeline reuses them (a second copy
    # of 150,000 items was 90 MB of the run's peak).
    from distilleval.pipeline import offline

    def second_load(*args, **kwargs):
        raise AssertionError("the offline pipeline loaded the data file again")

    monkeypatch.setattr(offline, "load_items", second_load)
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    assert main(["run", spec, "--offline", "--runs-dir", str(tmp_path / "runs"), "--limit", "20"]) == 0
