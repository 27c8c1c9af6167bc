"""A judge-scored eval against the scripted server: a judge double with known error rates grades
answers whose right answers are known; every judge figure must follow from the double's own
verdicts and usage."""

from __future__ import annotations

import json

import pytest

from distilleval.cli.main import main
from distilleval.costs.cost_model import format_usd
from distilleval.scoring.judge import judge_messages
from distilleval.testing.judge_double import JudgeDouble
from distilleval.testing.openai_server import ModelScript, OpenAIServer, prompt_text

N_ITEMS = 40
CRITERIA = "The reply must give the customer's order number back and say what happens next.\n"
GPT_41_MINI = (0.40, 1.60)  # the table's USD per 1M input / output tokens


def _item(prompt: str) -> int:
    return int(prompt.rsplit("#", 1)[1].split()[0])


def teacher(prompt: str) -> str:
    i = _item(prompt)
    return f"right: order {i} ships tomorrow" if i % 10 != 0 else f"wrong: no idea about {i}"


def student(prompt: str) -> str:
    i = _item(prompt)
    return f"right: order {i} ships tomorrow" if i % 4 != 0 else f"wrong: order {i} lost"


def is_right(answer: str) -> bool:
    return answer.startswith("right")


def write_judge_spec(folder, base_url, *, alignment: str | None = "min_rows: 30", judge_model="openai/judge-m",
                     pairwise=False, rows=40):
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data.jsonl").open("w") as handle:
        for i in range(N_ITEMS):
            handle.write(json.dumps({"id": f"m{i}", "message": f"where is order #{i} please",
                                     "reply": f"order {i} ships tomorrow"}) + "\n")
    with (folder / "alignment.jsonl").open("w") as handle:
        for i in range(rows):
            answer = f"right: order {100 + i} ships tomorrow" if i % 2 else f"wrong: order {100 + i} unknown"
            handle.write(json.dumps({"message": f"where is order #{100 + i} please", "output": answer,
                                     "verdict": "pass" if i % 2 else "fail"}) + "\n")
    (folder / "criteria.md").write_text(CRITERIA)
    alignment_block = f"\n  alignment: {{path: alignment.jsonl, {alignment}}}" if alignment else ""
    (folder / "spec.yaml").write_text(
        f"""name: replies
data: {{path: data.jsonl, input: {{text: message}}, gold: reply, id: id, split: {{eval_fraction: 1.0}}}}
output: {{kind: text}}
scorer:
  kind: judge
  model: {judge_model}
  criteria: criteria.md
  price_as: openai/gpt-4.1-mini
  api_base: {base_url}
  fast_path: true
  pairwise: {str(pairwise).lower()}{alignment_block}
teacher: {{model: openai/teacher-m, prompt: "Reply: {{text}}", api_base: {base_url}, price_as: anthropic/claude-opus-4-6,
  fast_path: true}}
student: {{model: openai/student-m, prompt: "{{text}}", api_base: {base_url}, price_as: tinker/lora, fast_path: true}}
gates: {{non_inferiority_margin: 0.05, student_min: 0.5}}
"""
    )
    return folder / "spec.yaml"


def _scripts(double, **judge):
    return {"teacher-m": ModelScript(answer=teacher), "student-m": ModelScript(answer=student),
            "judge-m": ModelScript(answer=double, **judge)}


def _eval(spec, tmp_path, *extra):
    return main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache.sqlite"),
                 *extra])


def _summary(tmp_path):
    [path] = (tmp_path / "runs").glob("*/summary.json")
    return json.loads(path.read_text())


def _expected_passes(double, answer_of) -> int:
    passes = 0
    for i in range(N_ITEMS):
        answer = answer_of(f"where is order #{i} please")
        messages = judge_messages(CRITERIA, {"text": f"where is order #{i} please"}, answer, reference=None,
                                  scale="pass_fail")
        passes += double(prompt_text(list(messages))).endswith("PASS")
    return passes


def test_judge_figures_follow_from_the_doubles_verdicts_and_usage(tmp_path, capsys):
    double = JudgeDouble(truth=is_right, sensitivity=0.9, specificity=0.7, seed=3)
    with OpenAIServer(_scripts(double)) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url)
        assert _eval(spec, tmp_path) == 0
        judge_requests = server.requests_for("judge-m", "ok")
    judge = _summary(tmp_path)["judge"]
    distinct_answers = len({teacher(f"#{i} ") for i in range(N_ITEMS)} | {student(f"#{i} ") for i in range(N_ITEMS)})
    assert judge["calls"] == len(judge_requests) == distinct_answers + 40
    # The judge never sees which model wrote an answer.
    assert not any(word in r.prompt for r in judge_requests for word in ("teacher", "student"))
    # Cost: the double's usage (word counts) times the table's prices.
    usage = [(len(r.prompt.split()), len(double(r.prompt).split())) for r in judge_requests]
    expected_cost = sum(i * GPT_41_MINI[0] + o * GPT_41_MINI[1] for i, o in usage) / 1e6
    assert judge["cost_usd"] == pytest.approx(expected_cost, rel=1e-9)
    assert judge["input_tokens_total"] == sum(i for i, _ in usage)
    # Raw pass rates: exactly the double's verdicts on each model's answers.
    assert judge["figures"]["teacher"]["passes"] == _expected_passes(double, teacher)
    assert judge["figures"]["student"]["passes"] == _expected_passes(double, student)
    alignment = judge["alignment"]
    assert (alignment["positives"], alignment["negatives"], alignment["rows"]) == (20, 20, 40)
    assert alignment["requirements_met"] and judge["trusted"]
    corrected = judge["figures"]["student"]["corrected"]
    assert corrected["ci_low"] <= 0.75 <= corrected["ci_high"]  # the student is right on 3 items in 4
    assert judge["comparison"]["n_paired"] == N_ITEMS
    out = capsys.readouterr().out
    assert f"judge openai/judge-m: {judge['calls']} calls" in out
    models_spent = sum(m["spent_usd"] for m in _summary(tmp_path)["models"].values())
    assert judge["spent_usd"] == pytest.approx(expected_cost) and models_spent > 0
    assert (f"eval spent {format_usd(models_spent + judge['spent_usd'])}: models {format_usd(models_spent)} + judge "
            f"{format_usd(judge['spent_usd'])}") in out


def test_a_failed_judge_call_is_missing_data_and_counts_in_the_error_rate(tmp_path):
    double = JudgeDouble(truth=is_right, seed=1)
    broken = {f"order {i} lost" for i in (4, 8)}  # two student answers whose judge call always fails

    def faults(prompt, attempt):
        return "server_error" if any(b in prompt for b in broken) else None

    with OpenAIServer(_scripts(double, faults=faults)) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url)
        status = _eval(spec, tmp_path, "--max-retries", "0")
    summary = _summary(tmp_path)
    student_result = summary["models"]["student"]
    assert student_result["n_scored"] == N_ITEMS - 2  # never scored as fails
    assert summary["judge"]["failed_calls"] == 2
    assert summary["judge"]["figures"]["student"]["n"] == N_ITEMS - 2
    assert not summary["judge"]["trusted"] and "error rate" in summary["judge"]["untrusted_reasons"][0]
    assert status == 1


def test_a_rerun_pays_no_judge_call_again(tmp_path):
    double = JudgeDouble(truth=is_right, sensitivity=0.9, specificity=0.8)
    with OpenAIServer(_scripts(double)) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url)
        assert _eval(spec, tmp_path) == 0
        server.clear_log()
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "again"),
                     "--cache", str(tmp_path / "cache.sqlite")]) == 0
        assert server.log == []


def test_pairwise_position_bias_is_measured_within_its_interval(tmp_path):
    double = JudgeDouble(truth=is_right, first_position_bias=0.3, seed=7)
    with OpenAIServer(_scripts(double)) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url, pairwise=True)
        assert _eval(spec, tmp_path) == 0
    pairwise = _summary(tmp_path)["judge"]["pairwise"]
    assert pairwise["n"] == N_ITEMS
    assert pairwise["wins"] + pairwise["ties"] + pairwise["losses"] == N_ITEMS
    bias = pairwise["position_bias"]
    assert bias["ci_low"] <= 0.3 <= bias["ci_high"]


def test_a_judge_that_is_the_student_is_refused(tmp_path, capsys):
    spec = write_judge_spec(tmp_path / "task", "http://127.0.0.1:9/v1", judge_model="openai/student-m")
    assert _eval(spec, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "spec.yaml:" in err[0] and "scorer.model" in err[0] and "student" in err[0]


def test_a_judge_of_the_teachers_family_is_warned_about(tmp_path, capsys):
    from distilleval.spec.task_spec import load_spec

    spec = write_judge_spec(tmp_path / "task", "http://127.0.0.1:9/v1", judge_model="openai/teacher-x")
    load_spec(spec)
    assert "self-preference" in capsys.readouterr().err


def test_offline_run_says_scoring_needs_a_judge(tmp_path, capsys):
    spec = write_judge_spec(tmp_path / "task", "http://127.0.0.1:9/v1")
    assert main(["run", str(spec), "--offline", "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "judge" in err[0]


def test_resume_recalls_only_the_failed_judge_calls(tmp_path):
    double = JudgeDouble(truth=is_right, seed=2)
    broken = {"order 4 lost", "order 8 lost"}
    state = {"failing": True}

    def faults(prompt, attempt):
        return "server_error" if state["failing"] and any(b in prompt for b in broken) else None

    with OpenAIServer(_scripts(double, faults=faults)) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url)
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--no-cache", "--max-retries", "0"]) == 1
        [run_dir] = (tmp_path / "runs").iterdir()
        state["failing"] = False
        server.clear_log()
        assert main(["eval", str(spec), "--resume", str(run_dir), "--no-cache"]) == 0
        assert [r.model for r in server.log] == ["judge-m", "judge-m"]  # nothing else is paid again
    judge = json.loads((run_dir / "summary.json").read_text())["judge"]
    assert judge["failed_calls"] == 0 and judge["figures"]["student"]["n"] == N_ITEMS


def test_a_missing_judge_key_stops_before_any_call(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JUDGE_TEST_KEY", raising=False)
    with OpenAIServer(_scripts(JudgeDouble(truth=is_right))) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url)
        spec.write_text(spec.read_text().replace("  fast_path: true\n  pairwise", "  fast_path: true\n  "
                                                 "api_key_env: JUDGE_TEST_KEY\n  pairwise", 1))
        assert _eval(spec, tmp_path) == 2
        assert server.log == []
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "JUDGE_TEST_KEY" in err[0]


def test_with_batch_the_judge_goes_through_its_providers_batch_api_priced_at_the_batch_tier(tmp_path):
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.costs.pricing import load_pricing
    from distilleval.run.store import RunStore
    from distilleval.testing.batch_servers import BatchServer

    double = JudgeDouble(truth=is_right, sensitivity=0.9, specificity=0.8, seed=4)

    def answer(prompt):
        return double(prompt) if "Answer to grade:" in prompt else teacher(prompt)

    with BatchServer(answer=answer, polls_to_finish=0) as server:
        spec = write_judge_spec(tmp_path / "task", server.openai_base)
        text = spec.read_text().replace("  fast_path: true\n  pairwise", "  pairwise", 1)
        spec.write_text(text.replace("price_as: anthropic/claude-opus-4-6,\n  fast_path: true",
                                     "price_as: openai/gpt-4.1-mini"))
        assert _eval(spec, tmp_path, "--batch", "--batch-poll", "0.01", "--models", "teacher") == 0
        sizes = sorted(size for _, _, size in server.submissions)
    distinct_teacher = len({teacher(f"#{i} ") for i in range(N_ITEMS)})
    assert sizes == sorted([N_ITEMS, distinct_teacher, 40])  # teacher, judge grading, judge alignment
    [run_dir] = (tmp_path / "runs").iterdir()
    judge = json.loads((run_dir / "summary.json").read_text())["judge"]
    price = load_pricing(None).price_for("openai/gpt-4.1-mini")
    with RunStore(run_dir) as store:
        calls = store.results("judge") + store.results("judge_alignment")
    assert judge["calls"] == len(calls) == distinct_teacher + 40
    assert judge["cost_usd"] == pytest.approx(
        sum(request_cost_usd(price, c.input_tokens, c.output_tokens, batch=True) for c in calls), rel=1e-9)


def test_a_bad_alignment_row_is_one_line_naming_file_line_and_field(tmp_path, capsys):
    with OpenAIServer(_scripts(JudgeDouble(truth=is_right))) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url)
        rows = (tmp_path / "task" / "alignment.jsonl").read_text().splitlines()
        rows[2] = rows[2].replace('"verdict": "pass"', '"verdict": "maybe"').replace('"verdict": "fail"', '"verdict": "maybe"')
        (tmp_path / "task" / "alignment.jsonl").write_text("\n".join(rows) + "\n")
        assert main(["align", str(spec), "--out", str(tmp_path / "align"), "--no-cache"]) == 2
        assert server.log == []
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "alignment.jsonl:3: verdict: expected pass or fail" in err[0]


def test_a_bad_alignment_row_stops_eval_before_any_call(tmp_path, capsys):
    with OpenAIServer(_scripts(JudgeDouble(truth=is_right))) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url)
        with (tmp_path / "task" / "alignment.jsonl").open("a") as handle:
            handle.write(json.dumps({"message": "where is order #1 please", "verdict": "pass"}) + "\n")
        assert _eval(spec, tmp_path) == 2
        assert server.log == []
    assert "alignment.jsonl:41: output: missing" in capsys.readouterr().err


def test_a_judge_of_a_checkpoints_base_model_family_is_warned_about(tmp_path, capsys):
    from distilleval.spec.task_spec import load_spec

    spec = write_judge_spec(tmp_path / "task", "http://127.0.0.1:9/v1", judge_model="Qwen/Qwen3-32B")
    spec.write_text(spec.read_text().replace("model: openai/student-m", "model: tinker://run-1/sampler_weights/final"))
    load_spec(spec)
    assert "family 'qwen' with the student" in capsys.readouterr().err
