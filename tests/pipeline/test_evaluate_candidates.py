"""evaluate with prompted candidates and cascades, against the scripted server: every reported
figure (each model's accuracy and cost, each answer's confidence, each cascade's deferral rate,
accuracy and cost per request at every threshold) equals the truth computed here from the scripts."""

import functools
import json
import math

import pytest

from distilleval.cli.main import main
from distilleval.costs.pricing import load_pricing
from distilleval.results.cascades import fixed_threshold_grid, split_calibration
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_eval import RUBRIC

LABELS = ("billing", "technical", "other")
N_ITEMS = 40
USAGE = {"teacher-m": (300, 1), "student-m": (12, 1), "mini-m": (300, 1)}
PRICED_AS = {"teacher-m": "anthropic/claude-opus-4-6", "student-m": "tinker/lora", "mini-m": "openai/gpt-4.1-mini"}


def _number(prompt: str) -> int:
    return int(prompt.split("#")[1].split()[0])


def _gold(number: int) -> str:
    return LABELS[number % 3]


def _wrong(number: int) -> str:
    return LABELS[(number + 1) % 3]


# Known answers: the teacher misses every 7th ticket, the candidate every 4th, the student every 5th.
ANSWERS = {
    "teacher-m": lambda n: _wrong(n) if n % 7 == 0 else _gold(n),
    "mini-m": lambda n: _wrong(n) if n % 4 == 0 else _gold(n),
    "student-m": lambda n: _wrong(n) if n % 5 == 0 else _gold(n),
}


def confidence_of(model: str, number: int) -> float:
    """Known confidence per answer, never on the 0.05 threshold grid; the student is less sure when wrong."""
    if model == "student-m":
        return (((number * 37) % 40) + 0.25) / 100 if number % 5 == 0 else (((number * 53) % 50) + 45.25) / 100
    return (((number * 17) % 90) + 9.25) / 100


def _script(model: str) -> ModelScript:
    return ModelScript(
        answer=lambda prompt: ANSWERS[model](_number(prompt)), usage=USAGE[model],
        logprob=lambda prompt: math.log(confidence_of(model, _number(prompt))),
    )


def _write_task(folder, base_url, *, shuffle_seed=None):
    import random

    folder.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"id": f"t{i}", "message": f"ticket #{i} about {_gold(i)}", "label": _gold(i), "split": "eval"})
            for i in range(N_ITEMS)]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(rows)
    (folder / "data.jsonl").write_text("\n".join(rows) + "\n")
    (folder / "rubric.md").write_text(RUBRIC)
    (folder / "spec.yaml").write_text(f"""name: routing
data: {{path: data.jsonl, input: {{text: message}}, gold: label, id: id, split: {{column: split}}}}
output: {{kind: label, labels: [billing, technical, other]}}
scorer: exact_match
teacher:
  model: openai/teacher-m
  prompt: rubric.md
  api_base: {base_url}
  price_as: {PRICED_AS["teacher-m"]}
  fast_path: true
student:
  model: openai/student-m
  prompt: "{{text}}"
  api_base: {base_url}
  price_as: {PRICED_AS["student-m"]}
  fast_path: true
candidates:
  - name: mini
    model: openai/mini-m
    api_base: {base_url}
    price_as: {PRICED_AS["mini-m"]}
    fast_path: true
cascades:
  - {{first: student, fallback: teacher, delta: 0.2, calibration_fraction: 0.5, margin: 0.3}}
  - {{first: student, fallback: mini}}
gates: {{non_inferiority_margin: 0.05}}
""")
    return folder / "spec.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One eval of the task over the scripted server, plus the requests it made."""
    tmp = tmp_path_factory.mktemp("candidates")
    with OpenAIServer({model: _script(model) for model in ANSWERS}) as server:
        spec = _write_task(tmp / "task", server.base_url)
        status = main(["eval", str(spec), "--runs-dir", str(tmp / "runs"), "--cache", str(tmp / "cache.sqlite")])
        log = list(server.log)
    [run_dir] = list((tmp / "runs").iterdir())
    return {"status": status, "run_dir": run_dir, "log": log, "spec": spec, "tmp": tmp,
            "summary": json.loads((run_dir / "summary.json").read_text())}


@functools.lru_cache(maxsize=None)
def _cost(model: str) -> float:
    price = load_pricing(None).price_for(PRICED_AS[model])
    tokens_in, tokens_out = USAGE[model]
    return (tokens_in * price.input_per_mtok_usd + tokens_out * price.output_per_mtok_usd) / 1e6


def _truth_correct(model: str) -> list[float]:
    return [1.0 if ANSWERS[model](n) == _gold(n) else 0.0 for n in range(N_ITEMS)]


def test_the_candidate_is_called_scored_and_costed_like_the_teacher(run):
    assert run["status"] == 0
    models = run["summary"]["models"]
    assert {name: models[name]["role"] for name in models} == {"teacher": "teacher", "student": "student", "mini": "candidate"}
    for name, model in (("teacher", "teacher-m"), ("student", "student-m"), ("mini", "mini-m")):
        truth = _truth_correct(model)
        assert models[name]["metric"]["value"] == pytest.approx(sum(truth) / N_ITEMS, abs=1e-12), name
        assert models[name]["cost_per_request_usd"] == pytest.approx(_cost(model), rel=1e-9), name
        assert models[name]["n_confident"] == N_ITEMS and models[name]["confidence_basis"] == "token_logprobs:mean"
    # The candidate was sent the teacher's rubric (its default prompt) and compared with the teacher.
    mini_prompts = [r.prompt for r in run["log"] if r.model == "mini-m"]
    teacher_prompts = [r.prompt for r in run["log"] if r.model == "teacher-m"]
    assert sorted(mini_prompts) == sorted(teacher_prompts) and len(mini_prompts) == N_ITEMS
    assert ("teacher", "mini") in {(c["a"], c["b"]) for c in run["summary"]["comparisons"]}
    assert all(r.body.get("logprobs") is True for r in run["log"])  # every model here is OpenAI-compatible: all asked


def test_each_answer_carries_its_scripted_confidence(run):
    for row in iter_items(read_summary(run["run_dir"])):
        number = int(row.id[1:])
        for name, model in (("teacher", "teacher-m"), ("student", "student-m"), ("mini", "mini-m")):
            assert row.confidence[name] == pytest.approx(confidence_of(model, number), abs=1e-12)


def test_every_cascade_figure_equals_the_truth_at_every_threshold(run):
    cascades = {c["name"]: c for c in run["summary"]["cascades"]}
    assert set(cascades) == {"student→teacher", "student→mini"}
    # A wide margin certifies a threshold for student→teacher; the default one (0.05 over 20 items) certifies none.
    assert cascades["student→teacher"]["chosen"]["guarantee_met"] and not cascades["student→mini"]["chosen"]["guarantee_met"]
    student_correct = _truth_correct("student-m")
    for name, fallback in (("student→teacher", "teacher-m"), ("student→mini", "mini-m")):
        cascade = cascades[name]
        fallback_correct = _truth_correct(fallback)
        assert cascade["n_items"] == N_ITEMS and cascade["confidence_basis"] == "token_logprobs:mean"
        assert [p["threshold"] for p in cascade["curve"]] == list(fixed_threshold_grid())
        for point in cascade["curve"]:
            deferred = [confidence_of("student-m", n) < point["threshold"] for n in range(N_ITEMS)]
            correct = [fallback_correct[n] if deferred[n] else student_correct[n] for n in range(N_ITEMS)]
            cost = [_cost("student-m") + (_cost(fallback) if deferred[n] else 0.0) for n in range(N_ITEMS)]
            assert point["deferral_rate"] == pytest.approx(sum(deferred) / N_ITEMS, abs=1e-12), (name, point)
            assert point["accuracy"] == pytest.approx(sum(correct) / N_ITEMS, abs=1e-12), (name, point)
            assert point["cost_per_request_usd"] == pytest.approx(sum(cost) / N_ITEMS, rel=1e-9), (name, point)
        chosen = cascade["chosen"]
        assert chosen["calibration_items"] + chosen["test_items"] == N_ITEMS
        assert chosen["guarantee_met"] == (chosen["threshold"] is not None)
        # The chosen threshold's figures are over the test items only (those the threshold was not chosen on).
        test = [n for n, calibration in enumerate(split_calibration([f"t{n}" for n in range(N_ITEMS)], 0.5))
                if not calibration]
        threshold = math.inf if chosen["threshold"] is None else chosen["threshold"]
        deferred = {n: confidence_of("student-m", n) < threshold for n in test}
        assert chosen["test_items"] == len(test)
        assert chosen["deferral_rate"] == pytest.approx(sum(deferred.values()) / len(test), abs=1e-12)
        assert chosen["test_accuracy"] == pytest.approx(
            sum(fallback_correct[n] if deferred[n] else student_correct[n] for n in test) / len(test), abs=1e-12)
        assert chosen["cost_per_request_usd"] == pytest.approx(
            sum(_cost("student-m") + (_cost(fallback) if deferred[n] else 0.0) for n in test) / len(test), rel=1e-9)


def test_routing_json_holds_the_chosen_policy(run):
    routing = json.loads((run["run_dir"] / "routing.json").read_text())
    by_name = {policy["cascade"]: policy for policy in routing["cascades"]}
    for cascade in run["summary"]["cascades"]:
        policy = by_name[cascade["name"]]
        assert policy["threshold"] == cascade["chosen"]["threshold"]
        assert policy["guarantee_met"] == cascade["chosen"]["guarantee_met"]
        assert policy["first"] == {"name": "student", "model": "openai/student-m"}
        assert policy["confidence"]["basis"] == "token_logprobs:mean"


def test_report_json_carries_each_cascade_curve_as_rows(run, capsys):
    capsys.readouterr()
    assert main(["report", str(run["run_dir"]), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    curve_table = next(t for t in report["tables"] if t["key"] == "cascade_curve")
    rows = [(r[0]["value"], r[1]["value"], r[2]["value"], r[3]["value"], r[4]["value"]) for r in curve_table["rows"]]
    expected = [(c["name"], p["threshold"], p["deferral_rate"], p["accuracy"], p["cost_per_request_usd"])
                for c in run["summary"]["cascades"] for p in c["curve"]]
    assert rows == expected
    assert [c["name"] for c in report["cascades"]] == ["student→teacher", "student→mini"]
    accuracy = next(t for t in report["tables"] if t["key"] == "accuracy")
    assert any("mini" in row[0]["text"] for row in accuracy["rows"])


def test_permuting_the_data_file_changes_no_candidate_or_cascade_figure(run):
    # Latency is measured, so it differs run to run; every other figure must not move.
    def figures(summary):
        models = {name: (m["metric"]["value"], m["cost_per_request_usd"], m["n_confident"])
                  for name, m in summary["models"].items()}
        cascades = [(c["name"], [(p["threshold"], p["deferral_rate"], p["accuracy"], p["cost_per_request_usd"])
                                 for p in c["curve"]],
                     {k: v for k, v in c["chosen"].items()}) for c in summary["cascades"]]
        return models, cascades, [(c["a"], c["b"], c["difference"], c["p_value"]) for c in summary["comparisons"]]

    tmp = run["tmp"] / "shuffled"
    with OpenAIServer({model: _script(model) for model in ANSWERS}) as server:
        spec = _write_task(tmp / "task", server.base_url, shuffle_seed=7)
        assert main(["eval", str(spec), "--runs-dir", str(tmp / "runs"), "--cache", str(tmp / "cache.sqlite")]) == 0
    [run_dir] = list((tmp / "runs").iterdir())
    assert figures(json.loads((run_dir / "summary.json").read_text())) == figures(run["summary"])
