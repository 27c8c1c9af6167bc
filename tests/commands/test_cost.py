"""`distilleval cost`: the seed table from explicit numbers, from a spec, and its formats."""

from __future__ import annotations

import csv
import io
import json

import pytest

from distilleval.cli.main import main
from tests.conftest import REPO_ROOT

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


# Several specs or runs: one row per use case.

SPECS = ["specs/ticket_routing/spec.yaml", "specs/sql_generation/spec.yaml"]


def test_several_specs_give_one_row_per_use_case(capsys):
    assert main(["cost", *SPECS, "--volumes", "100000"]) == 0
    out = capsys.readouterr().out
    rows = _markdown_rows(out)
    assert set(rows) == {"Use case", "ticket_routing", "sql_generation"}
    header = rows["Use case"]
    assert rows["ticket_routing"][header.index("Teacher")] == "GPT-5.2"
    assert rows["ticket_routing"][header.index("Student")] == "Tinker LoRA (self-hosted)"
    assert rows["sql_generation"][header.index("Basis")] == "projected"
    assert "Saving / month @ 100K/day" in header
    assert "Prices: 2026-02.yaml (as of 2026-02-01, sha256 " in out


def test_a_spec_row_equals_the_single_spec_table(capsys):
    assert main(["cost", SPECS[0], "--format", "json", "--volumes", "100000"]) == 0
    single = json.loads(capsys.readouterr().out)["rows"]
    assert main(["cost", *SPECS, "--format", "json", "--volumes", "100000"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    teacher = next(r for r in single if r["role"] == "teacher")
    student = next(r for r in single if r["role"] == "student")
    assert row["teacher_per_request_usd"] == teacher["cost_per_request_usd"]
    assert row["student_per_request_usd"] == student["cost_per_request_usd"]


def test_runs_keep_the_cost_they_recorded(capsys):
    # pii_detection's teacher reads 80% of its input from the prompt cache; the run priced that.
    runs = ["reports/pii_detection/summary.json", "reports/ticket_routing"]
    assert main(["cost", *runs, "--format", "csv"]) == 0
    records = {r["use_case"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    summary = json.loads(open(runs[0]).read())
    assert float(records["pii_detection"]["teacher_per_request_usd"]) == summary["models"]["teacher"]["cost_per_request_usd"]
    assert records["ticket_routing"]["teacher_basis"] == "projected"
    assert records["pii_detection"]["pricing"].startswith("2026-02.yaml (as of 2026-02-01, sha256 d9d19b46")


def test_check_exits_1_on_a_wrong_cell_and_0_on_a_right_one(tmp_path, capsys):
    assert main(["cost", *SPECS, "--volumes", "100000"]) == 0
    ours = capsys.readouterr().out
    right = tmp_path / "right.md"
    right.write_text("# Slide\n\n" + ours)
    assert main(["cost", *SPECS, "--volumes", "100000", "--check", str(right)]) == 0
    assert "the slide agrees" in capsys.readouterr().out
    wrong = tmp_path / "wrong.md"
    lines = ours.splitlines()
    assert lines[2].startswith("| ticket_routing")
    lines[2] = lines[2].replace("GPT-5.2", "Claude Opus 4.6", 1)
    wrong.write_text("\n".join(lines))
    assert main(["cost", *SPECS, "--volumes", "100000", "--check", str(wrong)]) == 1
    out = capsys.readouterr().out
    assert f"{wrong}:3: ticket_routing / Teacher: slide Claude Opus 4.6, computed GPT-5.2" in out
    assert "1 of 18 cells differ" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([*SPECS, "--also", "openai/gpt-4.1-mini"], "--also apply to a single source"),
        ([SPECS[0], SPECS[0]], "use case 'ticket_routing' is given twice"),
        (["reports/ticket_routing", SPECS[1], "--pricing", "pricing/2026-02.yaml"], "--pricing applies to specs"),
    ],
)
def test_use_case_table_usage_errors(capsys, args, expected):
    assert main(["cost", *args]) == 2
    assert expected in capsys.readouterr().err


def test_check_of_a_file_without_a_table_is_exit_2(tmp_path, capsys):
    slide = tmp_path / "slide.md"
    slide.write_text("no table here\n")
    assert main(["cost", SPECS[0], "--check", str(slide)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{slide}:1: no markdown table found (expected a header row followed by |---|)")


def test_committed_use_case_tables_are_current(capsys):
    # reports/regenerate.sh writes reports/all_use_cases/ from the six committed summaries.
    runs = sorted(str(path.relative_to(REPO_ROOT)) for path in REPO_ROOT.glob("reports/*/summary.json"))
    assert len(runs) == 6
    for fmt, name in (("md", "cost.md"), ("csv", "cost.csv"), ("json", "cost.json")):
        assert main(["cost", *runs, "--volumes", "100000", "--format", fmt]) == 0
        assert capsys.readouterr().out == (REPO_ROOT / "reports" / "all_use_cases" / name).read_bytes().decode(), name
