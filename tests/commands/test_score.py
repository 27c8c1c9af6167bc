"""Tests for `distilleval score` (in-process through the real CLI entry point)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary


def write_label_task(tmp_path, n=40):
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i in range(n):
            gold = "refund" if i % 2 else "other"
            handle.write(json.dumps({"id": f"i{i}", "text": f"message {i}", "label": gold, "split": "eval"}) + "\n")
        handle.write(json.dumps({"id": "train-0", "text": "x", "label": "other", "split": "train"}) + "\n")
    (tmp_path / "spec.yaml").write_text(
        """name: intents
data: {path: data.jsonl, input: {text: text}, gold: label, id: id, split: {column: split}}
output: {kind: label, labels: [refund, other]}
scorer: {kind: exact_match, normalize: {case: true}}
teacher: {model: openai/gpt-5.2, prompt: "Classify: {text}"}
student: {model: "tinker://student", prompt: "{text}"}
gates: {non_inferiority_margin: 0.05}
""",
        encoding="utf-8",
    )
    return tmp_path / "spec.yaml"


def write_predictions(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def label_predictions(n=40, wrong=()):
    return [
        {"id": f"i{i}", "output": ("OTHER" if i % 2 else "refund") if i in wrong else ("Refund" if i % 2 else "other"),
         "input_tokens": 500, "output_tokens": 2, "latency_ms": 120.0}
        for i in range(n)
    ]


def test_two_files_print_table_and_paired_comparison_and_write_summary(tmp_path, capsys):
    spec = write_label_task(tmp_path)
    teacher = write_predictions(tmp_path / "teacher.jsonl", label_predictions())
    student = write_predictions(tmp_path / "student.jsonl", label_predictions(wrong={1, 2, 3}))
    out = tmp_path / "result" / "summary.json"
    write_predictions(teacher, label_predictions() + [{"id": "train-0", "output": "other"}])
    status = main(["score", str(spec), "--predictions", str(teacher), "--predictions", str(student),
                   "--model", "teacher", "--model", "student", "--out", str(out), "--resamples", "300"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "accuracy [95% CI]" in printed and "1.000 [0.912, 1.000]" in printed
    assert "student - teacher on 40 paired items: -0.075" in printed
    # The p printed is the score test's, the one the interval inverts (not McNemar's exact 0.25).
    assert "p = 0.2482 (Tango score test at a difference of 0, two-sided" in printed
    assert "only teacher right: 3, only student right: 0" in printed
    assert "McNemar" not in printed
    assert "at margin 0.05: inconclusive" in printed
    assert "method: Tango score test, continuity-corrected" in printed
    assert "interval of teacher: Clopper-Pearson (exact binomial)" in printed
    assert "note: teacher: 1 output(s) for items outside the scored set were ignored" in printed
    summary = read_summary(out)
    assert summary.mode == "offline" and summary.n_items == 40  # the train item is not scored
    assert summary.models["student"].metric.value == pytest.approx(37 / 40)
    assert summary.models["teacher"].cost_per_request_usd == pytest.approx((500 * 1.75 + 2 * 14.0) / 1e6)
    assert summary.comparisons[0].discordant == {"a_only": 3, "b_only": 0}


def test_single_file_default_name_and_default_output_folder(tmp_path, capsys, monkeypatch):
    spec = write_label_task(tmp_path)
    preds = write_predictions(tmp_path / "gpt.jsonl", label_predictions())
    monkeypatch.chdir(tmp_path)
    assert main(["score", str(spec), "--predictions", str(preds)]) == 0
    (written,) = list((tmp_path / "runs").glob("intents-score-*/summary.json"))
    summary = read_summary(written)
    assert list(summary.models) == ["gpt"] and summary.models["gpt"].role == "other"
    assert summary.comparisons == []


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"id": "i0", "output": 3}', ":1: field 'output': expected a string, object or null, found 3"),
        ('{"output": "refund"}', ":1: field 'id': required field is missing"),
        ('{"id": "nope", "output": "refund"}', ":1: field 'id': no item 'nope' in the spec's data"),
        ('{"id": "i0", "output": "x", "latency_ms": -1}', ":1: field 'latency_ms': expected a non-negative number"),
        ('{"id": "i0", "output": "x", "input_tokens": 1.5}', ":1: field 'input_tokens': expected a non-negative integer"),
        ('{"id": "i0", "output": "x", "cache_hit": "yes"}', ":1: field 'cache_hit': expected true or false"),
        ('{"id": "i0"', ":1: not valid JSON"),
    ],
)
def test_bad_predictions_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, line, fragment):
    spec = write_label_task(tmp_path)
    preds = tmp_path / "bad.jsonl"
    preds.write_text(line + "\n", encoding="utf-8")
    out = tmp_path / "out" / "summary.json"
    assert main(["score", str(spec), "--predictions", str(preds), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"{preds}{fragment}" in error
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"id": "i0", "output": "caf\xe9"}\n'.encode("latin-1"), ":1: not UTF-8 text (byte 28 of the line"),
        ('{"id": "i0", "output": "x"}\n'.encode("utf-16"), ":1: not UTF-8 text (byte 1 of the line"),
        (b'{"id": "i0", "output": "other"}\n\x00\xff\xfe binary\n', ":2: not UTF-8 text"),
        (b'{"id": "i0", "output": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", ":1: JSON nested too deeply to read"),
    ],
    ids=["latin-1", "utf-16", "binary", "deep nesting"],
)
def test_unreadable_predictions_exit_2_with_one_line(tmp_path, capsys, content, fragment):
    # These used to end in a UnicodeDecodeError or RecursionError traceback.
    spec = write_label_task(tmp_path)
    preds = tmp_path / "bad.jsonl"
    preds.write_bytes(content)
    assert main(["score", str(spec), "--predictions", str(preds), "--out", str(tmp_path / "o" / "s.json")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{preds}{fragment}" in error, error


def test_a_byte_order_mark_is_accepted_in_predictions(tmp_path, capsys):
    spec = write_label_task(tmp_path, n=2)
    preds = write_predictions(tmp_path / "p.jsonl", [{"id": "i0", "output": "other"}, {"id": "i1", "output": "refund"}])
    preds.write_bytes(b"\xef\xbb\xbf" + preds.read_bytes())
    out = tmp_path / "s.json"
    assert main(["score", str(spec), "--predictions", str(preds), "--out", str(out)]) == 0
    assert read_summary(out).models["p"].metric.value == 1.0


def test_duplicate_ids_and_mismatched_names_are_errors(tmp_path, capsys):
    spec = write_label_task(tmp_path)
    preds = write_predictions(tmp_path / "p.jsonl", [{"id": "i0", "output": "a"}, {"id": "i0", "output": "b"}])
    assert main(["score", str(spec), "--predictions", str(preds)]) == 2
    assert f"{preds}:2: field 'id': duplicate id 'i0' (first on line 1)" in capsys.readouterr().err
    good = write_predictions(tmp_path / "g.jsonl", label_predictions())
    assert main(["score", str(spec), "--predictions", str(good), "--model", "a", "--model", "b"]) == 2
    assert "--model was given 2 time(s) for 1 --predictions file(s)" in capsys.readouterr().err


def test_missing_items_and_failed_calls_count_as_errors(tmp_path, capsys):
    spec = write_label_task(tmp_path, n=4)
    preds = write_predictions(tmp_path / "p.jsonl", [
        {"id": "i0", "output": "other"}, {"id": "i1", "output": None, "error": "timeout"}, {"id": "i2", "output": None},
    ])
    out = tmp_path / "s.json"
    # 3 of 4 predictions failed or missing: above the spec's default 2% limit, so exit 1, with
    # summary.json written all the same.
    assert main(["score", str(spec), "--predictions", str(preds), "--out", str(out)]) == 1
    result = read_summary(out).models["p"]
    assert result.errors == {"timeout": 1, "no_output": 1, "missing": 1}
    # Failed and missing calls are missing data, not wrong answers: the accuracy is over the one
    # answered item, and the three failures are the error rate beside it.
    assert result.metric.value == 1.0 and result.n_scored == 1 and result.error_rate == 0.75
    printed = capsys.readouterr().out
    assert ("  p: 3 of 4 calls failed (missing 1, no_output 1, timeout 1), error rate 75.0% > limit 2.0%; "
            "its metric is over the 1 answered items") in printed
    assert "distilleval score: p failed more than 2.0% of calls (gates.max_error_rate)" in printed


def _with_failures(records, failed=(), missing=()):
    """``records`` with the ids in ``failed`` turned into timeouts and those in ``missing`` left out."""
    kept = [r for r in records if r["id"] not in {f"i{i}" for i in missing}]
    return [{"id": r["id"], "output": None, "error": "timeout"} if r["id"] in {f"i{i}" for i in failed} else r
            for r in kept]


def test_failed_predictions_are_dropped_from_the_comparison_and_said(tmp_path, capsys):
    spec = write_label_task(tmp_path)
    # The teacher failed on i0 and lacks i1; the student failed on i1 (already dropped) and i2,
    # and is wrong on i3, i4.
    teacher = write_predictions(tmp_path / "teacher.jsonl", _with_failures(label_predictions(), failed={0}, missing={1}))
    student = write_predictions(tmp_path / "student.jsonl",
                                _with_failures(label_predictions(wrong={3, 4}), failed={1, 2}))
    out = tmp_path / "summary.json"
    args = ["score", str(spec), "--predictions", str(teacher), "--predictions", str(student),
            "--model", "teacher", "--model", "student", "--out", str(out), "--resamples", "200"]
    assert main(args) == 1  # 5% of each model's items failed: above the default 2%
    printed = capsys.readouterr().out
    assert "student - teacher on 37 paired items (3 items dropped: a prediction failed or is missing): -0.054" in printed
    assert "  teacher: 2 of 40 calls failed (missing 1, timeout 1), error rate 5.0% > limit 2.0%" in printed
    assert "  student: 2 of 40 calls failed (timeout 2), error rate 5.0% > limit 2.0%" in printed
    assert "distilleval score: teacher, student failed more than 2.0% of calls (gates.max_error_rate)" in printed
    summary = read_summary(out)
    assert summary.comparisons[0].n_paired == 37 and summary.comparisons[0].dropped_failed == 3
    assert summary.models["student"].metric.value == pytest.approx(36 / 38)  # over the answered items

    # The limit from the command line: 5% is within 6%, so the same files pass.
    assert main(args + ["--max-error-rate", "0.06"]) == 0
    printed = capsys.readouterr().out
    assert "error rate 5.0% <= limit 6.0%" in printed and "distilleval score:" not in printed
    # ... and from the spec's gates.
    spec.write_text(spec.read_text().replace("gates: {non_inferiority_margin: 0.05}",
                                             "gates: {non_inferiority_margin: 0.05, max_error_rate: 0.04}"))
    assert main(args) == 1
    assert "failed more than 4.0% of calls (gates.max_error_rate)" in capsys.readouterr().out
    assert main(args + ["--max-error-rate", "0.05"]) == 0  # the flag wins; exactly at the limit is within it


def test_a_complete_score_prints_no_failure_lines_and_exits_0(tmp_path, capsys):
    spec = write_label_task(tmp_path)
    preds = write_predictions(tmp_path / "student.jsonl", label_predictions(wrong={1}))
    assert main(["score", str(spec), "--predictions", str(preds), "--model", "student",
                 "--out", str(tmp_path / "s.json"), "--resamples", "100"]) == 0
    printed = capsys.readouterr().out
    assert "calls failed" not in printed and "distilleval score:" not in printed


@pytest.mark.parametrize(("flag", "value"), [("--resamples", "0"), ("--max-error-rate", "1.5"),
                                             ("--max-error-rate", "nan"), ("--max-error-rate", "-0.1")])
def test_bad_resamples_or_error_rate_exit_2_before_writing(tmp_path, capsys, flag, value):
    spec = write_label_task(tmp_path)
    preds = write_predictions(tmp_path / "p.jsonl", label_predictions())
    out = tmp_path / "s.json"
    with pytest.raises(SystemExit) as stopped:  # argparse's usage error
        main(["score", str(spec), "--predictions", str(preds), "--out", str(out), flag, value])
    assert stopped.value.code == 2
    assert f"argument {flag}:" in capsys.readouterr().err.splitlines()[-1]
    assert not out.exists()


def test_sql_task_end_to_end_with_worker_processes(tmp_path, capsys):
    database = tmp_path / "shop.sqlite"
    with sqlite3.connect(database) as connection:
        connection.executescript("CREATE TABLE sale (item TEXT, usd REAL); "
                                 "INSERT INTO sale VALUES ('tea', 2.5), ('cake', 4.0), ('tea', 2.5);")
    golds = ["SELECT sum(usd) FROM sale", "SELECT item, count(*) FROM sale GROUP BY item"]
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i, gold in enumerate(golds):
            handle.write(json.dumps({"id": f"q{i}", "question": "?", "sql": gold, "split": "eval"}) + "\n")
    (tmp_path / "spec.yaml").write_text(
        """name: shop-sql
data: {path: data.jsonl, input: {question: question}, gold: sql, id: id, split: {column: split}}
output: {kind: sql}
scorer: {kind: sql_execution, database: shop.sqlite, timeout_s: 2, workers: 2}
teacher: {model: openai/gpt-5.2, prompt: "{question}"}
student: {model: "tinker://s", prompt: "{question}"}
""",
        encoding="utf-8",
    )
    before = database.read_bytes()
    preds = write_predictions(tmp_path / "student.jsonl", [
        {"id": "q0", "output": "```sql\nSELECT total(usd) FROM sale\n```"},
        {"id": "q1", "output": "DROP TABLE sale"},
    ])
    out = tmp_path / "s.json"
    assert main(["score", str(tmp_path / "spec.yaml"), "--predictions", str(preds), "--model", "student",
                 "--out", str(out)]) == 0
    summary = read_summary(out)
    assert summary.primary_metric == "execution_accuracy"
    assert summary.models["student"].metric.value == 0.5
    assert list(iter_items(summary))[1].reasons == {"student": "unsafe"}
    assert database.read_bytes() == before


def test_cli_help_does_not_import_heavy_modules():
    code = ("import sys; from distilleval.cli.main import build_parser; build_parser(); "
            "heavy = [m for m in ('numpy', 'scipy', 'sklearn', 'litellm', 'tinker') if m in sys.modules]; "
            "print(','.join(heavy))")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    assert result.stdout.strip() == ""


def test_a_python_scorer_that_exits_or_hangs_is_recorded_and_the_summary_written(tmp_path, capsys, monkeypatch):
    # sys.exit(3) in a user scorer used to end distilleval with status 3 and no summary; a
    # scorer that sleeps forever hung the run.
    (tmp_path / "hostile_scorer.py").write_text(
        "import sys, time\n"
        "def score(prediction, gold, item):\n"
        "    if prediction == 'exit':\n        sys.exit(3)\n"
        "    if prediction == 'sleep':\n        time.sleep(3600)\n"
        "    return prediction.lower() == gold\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = write_label_task(tmp_path, n=4)
    spec.write_text(spec.read_text().replace(
        "scorer: {kind: exact_match, normalize: {case: true}}",
        "scorer: {kind: python, ref: 'hostile_scorer:score', timeout_s: 3, workers: 2}"))
    preds = write_predictions(tmp_path / "p.jsonl", [
        {"id": "i0", "output": "exit"}, {"id": "i1", "output": "sleep"}, {"id": "i2", "output": "Other"},
        {"id": "i3", "output": "other"},
    ])
    out = tmp_path / "s.json"
    assert main(["score", str(spec), "--predictions", str(preds), "--out", str(out)]) == 0
    result = read_summary(out).models["p"]
    assert result.metric.value == 0.5  # i2 right, i3 wrong; i0 and i1 excluded as scorer errors
    assert result.metrics["scorer_errors"] == 2.0 and result.n_scored == 2


def test_default_score_folders_are_never_shared(tmp_path, capsys, monkeypatch):
    # Two scores in the same second used to write the same runs/<spec>-score-<time>/, one
    # result lost while both reported success. Folders for this second and the next few are
    # taken here, as a concurrent score would take them.
    import datetime as dt

    spec = write_label_task(tmp_path)
    preds = write_predictions(tmp_path / "gpt.jsonl", label_predictions())
    monkeypatch.chdir(tmp_path)
    now = dt.datetime.now(dt.timezone.utc)
    taken = [tmp_path / "runs" / f"intents-score-{(now + dt.timedelta(seconds=s)):%Y%m%d-%H%M%S}" for s in range(5)]
    for folder in taken:
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text("another run's result")
    assert main(["score", str(spec), "--predictions", str(preds)]) == 0
    assert all((folder / "summary.json").read_text() == "another run's result" for folder in taken)
    (written,) = [p for p in (tmp_path / "runs").glob("intents-score-*/summary.json") if p.parent not in taken]
    assert read_summary(written).run_id == written.parent.name


def _json_task(tmp_path, n, margin):
    golds = [{"name": f"n{i}", "total": i} for i in range(n)]
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i, gold in enumerate(golds):
            handle.write(json.dumps({"id": f"i{i}", "text": f"t{i}", "gold": json.dumps(gold), "split": "eval"}) + "\n")
    (tmp_path / "spec.yaml").write_text(
        "name: fields\n"
        "data: {path: data.jsonl, input: {text: text}, gold: gold, id: id, split: {column: split}}\n"
        "output: {kind: json}\nscorer: json_fields\n"
        'teacher: {model: openai/gpt-5.2, prompt: "{text}"}\nstudent: {model: "tinker://s", prompt: "{text}"}\n'
        f"gates: {{non_inferiority_margin: {margin}}}\n", encoding="utf-8")
    return tmp_path / "spec.yaml", [{"id": f"i{i}", "output": gold} for i, gold in enumerate(golds)]


@pytest.mark.parametrize("kind,n,margin,non_inferior", [
    ("label", 30, 0.05, False), ("label", 120, 0.05, True), ("json", 30, 0.02, False), ("json", 200, 0.02, True),
])
def test_perfect_identical_runs_get_a_non_zero_interval_and_no_free_verdict(tmp_path, capsys, kind, n, margin,
                                                                          non_inferior):
    """Issue 25 item 1: all-perfect, identical data get intervals from the number of items, and
    non-inferiority only where a level-0.05 test on n items would: (1 - margin)^n < 0.05."""
    if kind == "label":
        spec = write_label_task(tmp_path, n=n)
        spec.write_text(spec.read_text().replace("non_inferiority_margin: 0.05", f"non_inferiority_margin: {margin}"))
        records = label_predictions(n=n)
    else:
        spec, records = _json_task(tmp_path, n, margin)
    teacher = write_predictions(tmp_path / "teacher.jsonl", records)
    student = write_predictions(tmp_path / "student.jsonl", records)
    out = tmp_path / "summary.json"
    status = main(["score", str(spec), "--predictions", str(teacher), "--predictions", str(student),
                   "--model", "teacher", "--model", "student", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    summary = read_summary(out)
    for role in ("teacher", "student"):
        metric = summary.models[role].metric
        assert metric.value == 1.0 and metric.ci_low < 1.0 and metric.ci_high == 1.0
        assert metric.ci_method in printed
    (comparison,) = summary.comparisons
    assert comparison.difference == 0.0 and comparison.ci_low < 0 < comparison.ci_high
    assert comparison.non_inferiority.non_inferior is non_inferior
    assert ((1 - margin) ** n < 0.05) is non_inferior
    assert f"method: {comparison.ci_method}" in printed


@pytest.mark.parametrize("value", ["0", "-5", "99", "many"])
def test_too_few_resamples_are_a_usage_error(tmp_path, capsys, value):
    spec = write_label_task(tmp_path)
    teacher = write_predictions(tmp_path / "teacher.jsonl", label_predictions())
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(spec), "--predictions", str(teacher), "--resamples", value])
    assert exit_info.value.code == 2
    assert "--resamples" in capsys.readouterr().err
