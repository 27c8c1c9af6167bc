"""Every input check before the first paid call (issue 19, seen items 6 and 7).

Each case goes through the CLI (`eval`, `run`, `label`, `estimate`) against the local
OpenAI-compatible server, and asserts the exit status, the one-line message (file, line,
field), that no request reached the server and that nothing was written.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.errors import DataError, SpecError
from distilleval.pipeline.preflight import check_eval_inputs, check_label_inputs
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary
from distilleval.spec.data import order_key
from distilleval.spec.task_spec import load_spec
from distilleval.testing.openai_server import ModelScript, OpenAIServer

LABELS = ("billing", "technical", "other")
NFC_CAFE = unicodedata.normalize("NFC", "café")
NFD_CAFE = unicodedata.normalize("NFD", "café")


def _label_in(prompt: str) -> str:
    """The label hidden in a ticket (the scripted models 'read' it)."""
    return next((label for label in (*LABELS, NFC_CAFE) if f"about {label}" in prompt), "other")


def _rows(n: int, *, train: int = 0, label=lambda i: LABELS[i % 3]) -> list[dict]:
    """``n`` tickets; the first ``train`` are in the train split, the rest in eval."""
    return [
        {"id": f"t{i}", "message": f"ticket #{i} about {label(i)}", "label": label(i), "split": "train" if i < train else "eval"}
        for i in range(n)
    ]


def _canonical(ids) -> list[str]:
    """``ids`` in the order ``load_items`` returns items (a stable hash of each id, not file order)."""
    return sorted(ids, key=order_key)


def _write_task(folder: Path, base_url: str, rows: list[dict], *, gold: str | None = "label",
                labels: tuple[str, ...] = LABELS, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                                       encoding="utf-8")
    gold_part = f", gold: {gold}" if gold else ""
    label_list = ", ".join(json.dumps(label, ensure_ascii=False) for label in labels)
    (folder / "spec.yaml").write_text(
        f"""name: routing
data: {{path: data.jsonl, input: {{text: message}}{gold_part}, id: id, split: {{column: split}}}}
output: {{kind: label, labels: [{label_list}]}}
scorer: exact_match
teacher:
  model: openai/teacher-m
  prompt: "Route: {{text}}"
  api_base: {base_url}
  price_as: anthropic/claude-opus-4-6
student:
  model: openai/student-m
  prompt: "{{text}}"
  api_base: {base_url}
  price_as: tinker/lora
{extra}""",
        encoding="utf-8",
    )
    return folder / "spec.yaml"


@pytest.fixture(autouse=True, params=["list", "lazy"])
def items_held(request, monkeypatch):
    """Every case twice: the items as a list, and read lazily (``spec.lazy_items``) from their first row on."""
    if request.param == "lazy":
        monkeypatch.setattr("distilleval.spec.lazy_items.LAZY_FROM", 1)
    return request.param


@pytest.fixture
def server():
    with OpenAIServer({"teacher-m": ModelScript(answer=_label_in), "student-m": ModelScript(answer=_label_in)}) as running:
        yield running


def _refused(capsys, argv: list[str], server: OpenAIServer, *, written: Path) -> str:
    """Run the CLI, assert exit 2, no request and nothing under ``written``; the one error line."""
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(server.log) == 0, [r.model for r in server.log]
    assert not written.exists() or not any(written.iterdir()), sorted(written.rglob("*"))
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _eval_argv(spec: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache.sqlite"), *extra]


# -- seen item 6: paid first, then refused on the data --------------------------------------------


def test_eval_refuses_eval_rows_without_gold_before_any_call(tmp_path, server, capsys):
    rows = _rows(40)
    del rows[6]["label"]  # line 7: the column is absent
    rows[9]["label"] = ""  # line 10: the column is empty
    spec = _write_task(tmp_path / "task", server.base_url, rows)
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert f"{spec.parent / 'data.jsonl'}:7: column 'label' (gold): missing or empty" in line
    assert "(2 of 40 eval rows have none)" in line


def test_eval_limit_checks_only_the_rows_it_evaluates(tmp_path, server, capsys):
    rows = _rows(10)
    last = _canonical(row["id"] for row in rows)[-1]  # --limit 5 takes the first 5 in canonical order
    del next(row for row in rows if row["id"] == last)["label"]
    spec = _write_task(tmp_path / "task", server.base_url, rows)
    assert main(_eval_argv(spec, tmp_path, "--limit", "5")) == 0
    assert len(server.log) == 10  # 5 items x teacher and student: the row without gold is not evaluated
    [run_dir] = list((tmp_path / "runs").iterdir())
    assert read_summary(run_dir).models["student"].metric.value == 1.0


def test_eval_refuses_a_spec_without_a_gold_column(tmp_path, server, capsys):
    spec = _write_task(tmp_path / "task", server.base_url, _rows(20), gold=None)
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert line.endswith(f"{spec}:2: data.gold: not set, so an eval has no right answers to score against; "
                         "name the column of data.jsonl that holds them")


def test_eval_refuses_a_gold_column_no_row_has(tmp_path, server, capsys):
    spec = _write_task(tmp_path / "task", server.base_url, _rows(20), gold="answer")
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert f"{spec}:2: data.gold: column 'answer' is in no record of" in line


def test_eval_refuses_a_single_class_train_split_when_baselines_run(tmp_path, server, capsys):
    rows = _rows(30, train=10, label=lambda i: "billing" if i < 10 else LABELS[i % 3])
    spec = _write_task(tmp_path / "task", server.base_url, rows, extra="baselines: [tfidf_logreg]\n")
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert f"{spec}:15: baselines: tfidf_logreg need at least two classes in the train split" in line
    assert "it has only 'billing' (10 rows)" in line


def test_a_single_class_train_split_is_fine_when_the_baselines_are_not_run(tmp_path, server):
    rows = _rows(12, train=6, label=lambda i: "billing" if i < 6 else LABELS[i % 3])
    spec = _write_task(tmp_path / "task", server.base_url, rows, extra="baselines: [tfidf_logreg]\n")
    assert main(_eval_argv(spec, tmp_path, "--models", "teacher,student")) == 0
    assert len(server.log) == 12


def test_eval_refuses_an_empty_eval_split(tmp_path, server, capsys):
    spec = _write_task(tmp_path / "task", server.base_url, _rows(8, train=8))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert f"{spec.parent / 'data.jsonl'}: data.split: no items in the eval split" in line
    assert "no row's 'split' is an eval value (eval, test); 8 rows in all" in line


def test_eval_refuses_an_empty_image_before_any_call(tmp_path, server, capsys):
    folder = tmp_path / "task"
    spec = _write_task(folder, server.base_url, [{**row, "image": "blank.png"} for row in _rows(6)])
    (folder / "blank.png").write_bytes(b"")
    spec.write_text(spec.read_text().replace("input: {text: message}", "input: {text: message, photo: image}, "
                                                                       "image_inputs: [photo]"))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert f"{folder / 'data.jsonl'}:1: column 'image': image {(folder / 'blank.png').resolve()} is an empty file" in line


def test_run_refuses_before_its_label_step_pays(tmp_path, server, capsys):
    rows = _rows(30, train=10)
    rows[20]["label"] = None
    spec = _write_task(tmp_path / "task", server.base_url, rows)
    argv = ["run", str(spec), "--runs-dir", str(tmp_path / "runs")]
    line = _refused(capsys, argv, server, written=tmp_path / "runs")
    assert "data.jsonl:21: column 'label' (gold): missing or empty in an eval row" in line


def test_label_refuses_an_empty_pool_before_any_call(tmp_path, server, capsys):
    spec = _write_task(tmp_path / "task", server.base_url, _rows(6))  # every row is eval: no train split
    out = tmp_path / "labels"
    argv = ["label", str(spec), "--out", str(out / "labels.jsonl"), "--cache", str(tmp_path / "cache.sqlite")]
    line = _refused(capsys, argv, server, written=out)
    assert line.endswith(f"{spec.parent / 'data.jsonl'} (train split): no items to label")


@pytest.mark.parametrize("case", ["gold_missing", "no_gold_column", "single_class"])
def test_estimate_refuses_what_eval_refuses_with_the_same_line(tmp_path, server, capsys, case):
    rows, gold, extra = _rows(30, train=10), "label", ""
    if case == "gold_missing":
        rows[15]["label"] = ""
    elif case == "no_gold_column":
        gold = None
    else:
        rows = _rows(30, train=10, label=lambda i: "other" if i < 10 else LABELS[i % 3])
        extra = "baselines: [tfidf_logreg]\n"
    spec = _write_task(tmp_path / "task", server.base_url, rows, gold=gold, extra=extra)
    eval_line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    estimate_line = _refused(capsys, ["estimate", str(spec)], server, written=tmp_path / "runs")
    assert estimate_line.split(": error: ", 1)[1] == eval_line.split(": error: ", 1)[1]


# -- seen item 7: Unicode forms -------------------------------------------------------------------


def test_a_decomposed_answer_scores_as_the_composed_label(tmp_path, capsys):
    def nfd_answer(prompt):
        return unicodedata.normalize("NFD", _label_in(prompt))

    labels = (NFC_CAFE, "billing")
    rows = _rows(10, label=lambda i: labels[i % 2])
    with OpenAIServer({"teacher-m": ModelScript(answer=_label_in), "student-m": ModelScript(answer=nfd_answer)}) as server:
        spec = _write_task(tmp_path / "task", server.base_url, rows, labels=labels)
        assert main(_eval_argv(spec, tmp_path)) == 0
    [run_dir] = list((tmp_path / "runs").iterdir())
    summary = read_summary(run_dir)
    # The student really answered in the decomposed form, and it scored as the composed label.
    assert sorted({item.outputs["student"] for item in iter_items(summary)}) == ["billing", NFD_CAFE]
    student = summary.models["student"]
    assert student.metric.value == 1.0
    assert student.invalid_rate == 0.0


def test_nfc_and_nfd_twins_in_output_labels_are_a_load_error(tmp_path, server, capsys):
    spec = _write_task(tmp_path / "task", server.base_url, _rows(6), labels=("billing", NFC_CAFE, "other", NFD_CAFE))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert line.endswith(
        f"{spec}:3: output.labels.3: 'cafe\\u0301' and 'caf\\xe9' are the same text in two Unicode forms "
        "(composed NFC and decomposed NFD), and labels are compared in NFC; keep one of them"
    )


def test_labels_equal_under_the_case_rule_are_a_load_error(tmp_path, server, capsys):
    spec = _write_task(tmp_path / "task", server.base_url, _rows(6), labels=("Billing", "billing", "other"))
    spec.write_text(spec.read_text().replace("scorer: exact_match", "scorer: {kind: exact_match, normalize: {case: true}}"))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert line.endswith(f"{spec}:3: output.labels.1: 'billing' and 'Billing' are the same label after "
                         "scorer.normalize (case); merge them or change the normalisation")


def test_a_decomposed_gold_label_is_read_as_the_composed_label(tmp_path):
    server_url = "http://127.0.0.1:9"  # never called: loading only
    rows = _rows(6, label=lambda i: (NFC_CAFE, "billing")[i % 2])
    rows[0]["label"] = NFD_CAFE
    spec = load_spec(_write_task(tmp_path / "task", server_url, rows, labels=(NFC_CAFE, "billing")))
    inputs = check_eval_inputs(spec)
    assert next(item for item in inputs.evaluate if item.id == "t0").gold == NFC_CAFE


# -- the checks as a library ----------------------------------------------------------------------


def test_check_eval_inputs_returns_the_evaluated_and_training_items(tmp_path):
    rows = _rows(12, train=5)
    rows[2]["label"] = None  # a train row without gold: kept out of baseline training, not an error
    spec = load_spec(_write_task(tmp_path / "task", "http://127.0.0.1:9", rows, extra="baselines: [tfidf_logreg]\n"))
    inputs = check_eval_inputs(spec, limit=4)
    assert [item.id for item in inputs.evaluate] == _canonical(f"t{i}" for i in range(5, 12))[:4]
    assert [item.id for item in inputs.train] == _canonical(["t0", "t1", "t3", "t4"])
    assert len(inputs.items) == 12


def test_check_eval_inputs_with_no_train_rows_names_that(tmp_path):
    spec = load_spec(_write_task(tmp_path / "task", "http://127.0.0.1:9", _rows(6), extra="baselines: [tfidf_logreg]\n"))
    with pytest.raises(DataError, match=r"it has no row with a gold answer; label more training rows"):
        check_eval_inputs(spec)
    assert list(check_eval_inputs(spec, baselines=[]).train) == []


def test_check_label_inputs_prefers_the_given_pool(tmp_path):
    spec = load_spec(_write_task(tmp_path / "task", "http://127.0.0.1:9", _rows(6, train=3)))
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"id": f"p{i}", "message": f"m{i}"}) + "\n" for i in range(5)))
    assert [item.id for item in check_label_inputs(spec, pool=pool, limit=2).items] == _canonical(f"p{i}" for i in range(5))[:2]
    assert [item.id for item in check_label_inputs(spec).items] == _canonical(["t0", "t1", "t2"])
    with pytest.raises(SpecError):
        check_eval_inputs(load_spec(_write_task(tmp_path / "nogold", "http://127.0.0.1:9", _rows(3), gold=None)))


@pytest.mark.parametrize(("scorer", "bad_gold", "expected"), [
    ("json_fields", [1, 2], "scorer json_fields compares the fields of a JSON object, found list"),
    ("spans", {"entities": [{"type": "PERSON", "start": 4, "end": 2}]},
     "1 of its spans lack a type, a start or an end (start < end, both whole numbers); scorer spans reads 'entities'"),
])
def test_eval_refuses_gold_its_scorer_cannot_read_before_any_call(tmp_path, server, capsys, scorer, bad_gold, expected):
    good = {"total": 5} if scorer == "json_fields" else {"entities": [{"type": "PERSON", "start": 0, "end": 3}]}
    rows = [{"id": f"r{i}", "message": f"Ann paid {i}", "gold": bad_gold if i == 3 else good, "split": "eval"}
            for i in range(6)]
    folder = tmp_path / "task"
    spec = _write_task(folder, server.base_url, rows, gold="gold")
    spec.write_text(spec.read_text()
                    .replace("output: {kind: label, labels: [\"billing\", \"technical\", \"other\"]}", "output: {kind: json}")
                    .replace("scorer: exact_match", f"scorer: {scorer}"))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert line.endswith(f"{folder / 'data.jsonl'}:4: column 'gold' (gold): {expected}")


def test_validate_refuses_unreadable_json_gold_before_any_call(tmp_path, server, capsys):
    rows = [{"id": f"r{i}", "message": f"Ann paid {i}", "gold": "[1]" if i == 2 else {"total": i}, "split": "eval"}
            for i in range(4)]
    spec = _write_task(tmp_path / "task", server.base_url, rows, gold="gold")
    spec.write_text(spec.read_text()
                    .replace("output: {kind: label, labels: [\"billing\", \"technical\", \"other\"]}", "output: {kind: json}")
                    .replace("scorer: exact_match", "scorer: json_fields"))
    argv = ["validate", str(spec), "--cache", str(tmp_path / "cache.sqlite"), "--out", str(tmp_path / "out" / "v.json")]
    line = _refused(capsys, argv, server, written=tmp_path / "out")
    assert line.endswith("data.jsonl:3: column 'gold' (gold): scorer json_fields compares the fields of a JSON object, "
                         "found list")


def test_eval_refuses_a_missing_sql_database_before_any_call(tmp_path, server, capsys):
    rows = [{"id": f"q{i}", "message": f"how many {i}", "label": "SELECT 1", "split": "eval"} for i in range(3)]
    spec = _write_task(tmp_path / "task", server.base_url, rows)
    spec.write_text(spec.read_text()
                    .replace("output: {kind: label, labels: [\"billing\", \"technical\", \"other\"]}", "output: {kind: sql}")
                    .replace("scorer: exact_match", "scorer: {kind: sql_execution, database: shop.sqlite}"))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert line.endswith(f"{spec}:4: scorer.database: file not found: {spec.parent / 'shop.sqlite'}")


def test_eval_refuses_a_missing_image_before_any_call(tmp_path, server, capsys):
    folder = tmp_path / "task"
    spec = _write_task(folder, server.base_url, [{**row, "image": f"img{i}.png"} for i, row in enumerate(_rows(4))])
    for i in (0, 1, 3):
        (folder / f"img{i}.png").write_bytes(b"\x89PNG\r\n")
    spec.write_text(spec.read_text().replace("input: {text: message}", "input: {text: message, photo: image}, "
                                                                       "image_inputs: [photo]"))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert line.endswith(f"{folder / 'data.jsonl'}:3: column 'image': image not found: {(folder / 'img2.png').resolve()}")


def test_eval_refuses_a_python_scorer_that_does_not_import_before_any_call(tmp_path, server, capsys):
    spec = _write_task(tmp_path / "task", server.base_url, _rows(4))
    spec.write_text(spec.read_text()
                    .replace("output: {kind: label, labels: [\"billing\", \"technical\", \"other\"]}", "output: {kind: text}")
                    .replace("scorer: exact_match", "scorer: {kind: python, ref: \"no_such_module_here:score\"}"))
    line = _refused(capsys, _eval_argv(spec, tmp_path), server, written=tmp_path / "runs")
    assert line.endswith(f"{spec}:4: scorer.ref 'no_such_module_here:score': cannot import 'no_such_module_here' "
                         "(ModuleNotFoundError: No module named 'no_such_module_here')")
    estimate = _refused(capsys, ["estimate", str(spec)], server, written=tmp_path / "runs")
    assert estimate.split(": error: ", 1)[1] == line.split(": error: ", 1)[1]
