"""`distilleval cost`: the seed table from explicit numbers, from a spec, and its formats."""

from __future__ import annotations

import csv
import io
import json

import pytest

from distilleval.cli.main import main

SEED_ARGS = [
    "cost",
    "--model", "anthropic/claude-opus-4-6", "--tokens-in", "641", "--tokens-out", "4",
    "--model", "openai/gpt-5.2",
    "--model", "gemini/gemini-2.5-flash",
    "--model", "tinker/lora", "--tokens-in", "24", "--tokens-out", "1",
    "--student", "tinker/lora",
]

# The seed's "Cost at Scale" table, one row per model: 1K / 100K / 1M requests per day.
SEED_ROWS = {
    "Claude Opus 4.6": ["$3.31", "$331", "$3,305"],
    "GPT-5.2": ["$1.18", "$118", "$1,178"],
    "Gemini 2.5 Flash": ["$0.20", "$20", "$202"],
    "Tinker LoRA (self-hosted)": ["$0.0025", "$0.25", "$2.50"],
}


def _markdown_rows(text: str) -> dict[str, list[str]]:
    """The first markdown table of ``text``, keyed by its first column."""
    rows = {}
    for line in text.splitlines():
        if rows and not line.startswith("|"):
            break
        if line.startswith("|") and not line.startswith("|--"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_reproduces_the_seed_cost_at_scale_table(capsys):
    assert main(SEED_ARGS) == 0
    rows = _markdown_rows(capsys.readouterr().out)
    header = rows["Model"]
    day_columns = [header.index(name) for name in ("1K/day", "100K/day", "1M/day")]
    for model, expected in SEED_ROWS.items():
        assert [rows[model][i] for i in day_columns] == expected, model
    monthly = header.index("Monthly @ 1M/day")
    assert rows["Claude Opus 4.6"][monthly] == "$99,150"
    assert rows["Tinker LoRA (self-hosted)"][monthly] == "$75"
    assert rows["Claude Opus 4.6"][header.index("× student")] == "1,322x"


def test_csv_keeps_full_precision(capsys):
    assert main(SEED_ARGS + ["--format", "csv"]) == 0
    records = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    opus = next(r for r in records if r["model"] == "anthropic/claude-opus-4-6")
    assert float(opus["per_day_usd_1000"]) == pytest.approx(3.305)
    assert float(opus["per_month_usd_1000000"]) == pytest.approx(99150.0)


def test_json_and_latex_formats(capsys):
    assert main(SEED_ARGS + ["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["cost_per_request_usd"] == pytest.approx(0.003305)
    assert main(SEED_ARGS + ["--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert r"\toprule" in latex and r"\$3,305" in latex


def test_days_per_month_flag(capsys):
    assert main(SEED_ARGS + ["--days-per-month", "30.4167"]) == 0
    rows = _markdown_rows(capsys.readouterr().out)
    assert rows["Tinker LoRA (self-hosted)"][rows["Model"].index("Monthly @ 1M/day")] == "$76"


def test_break_even_with_one_time_cost(capsys):
    assert main(SEED_ARGS + ["--one-time-usd", "330.25", "--volumes", "1000,100000"]) == 0
    out = capsys.readouterr().out
    # Opus saves $3.305 - $0.0025 = $3.3025 a day at 1K/day: 100 days.
    assert "| Claude Opus 4.6    | $330" in out and "100.0 days" in out


def test_student_dearer_than_teacher_never_breaks_even(capsys):
    args = ["cost", "--model", "gemini/gemini-2.5-flash", "--tokens-in", "10", "--tokens-out", "1",
            "--model", "anthropic/claude-opus-4-6", "--tokens-in", "100", "--tokens-out", "10",
            "--student", "anthropic/claude-opus-4-6", "--one-time-usd", "50"]
    assert main(args) == 0
    assert "never" in capsys.readouterr().out


def test_batch_rows(capsys):
    assert main(SEED_ARGS + ["--batch"]) == 0
    rows = _markdown_rows(capsys.readouterr().out)
    assert rows["Claude Opus 4.6 (batch)"][rows["Model"].index("1M/day")] == "$1,653"
    assert "Tinker LoRA (self-hosted) (batch)" not in rows


def test_cost_from_a_spec_measures_its_prompts(tiny_spec_path, capsys):
    assert main(["cost", str(tiny_spec_path), "--also", "openai/gpt-5.2"]) == 0
    rows = _markdown_rows(capsys.readouterr().out)
    assert {"Claude Opus 4.6", "GPT-5.2", "Tinker LoRA (self-hosted)"} <= set(rows)
    header = rows["Model"]
    assert rows["Claude Opus 4.6"][header.index("Basis")] == "projected"
    assert float(rows["Claude Opus 4.6"][1]) > float(rows["Tinker LoRA (self-hosted)"][1])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["cost"], "nothing to price"),
        (["cost", "--model", "openai/gpt-5.2"], "--tokens-in and --tokens-out missing"),
        (["cost", "--model", "openai/gpt-5.2", "--tokens-in", "5", "--tokens-out", "1", "--student", "x"], "--student 'x'"),
        (["cost", "--model", "openai/gpt-5.2", "--tokens-in", "5", "--tokens-out", "1", "--cached-in", "9"], "exceeds --tokens-in"),
    ],
)
def test_usage_errors_exit_2(capsys, args, expected):
    assert main(args) == 2
    assert expected in capsys.readouterr().err


def test_bad_numbers_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["cost", "--model", "openai/gpt-5.2", "--tokens-in", "-5", "--tokens-out", "1"])
    assert caught.value.code == 2
    assert "expected a non-negative number" in capsys.readouterr().err
