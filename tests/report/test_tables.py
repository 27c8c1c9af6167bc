"""Slide tables and the markdown report from the fixed ticket-routing summary.json."""

from __future__ import annotations

import os

import pytest

from distilleval.report import build_tables, compute_figures, load_run
from distilleval.report.markdown import render_markdown, table_markdown
from distilleval.report.render import render_run
from distilleval.report.verdict import decide
from tests.ticket_routing_fixture import FIXTURE_DIR, SUMMARY_PATH

GOLDEN = FIXTURE_DIR / "report.md"


@pytest.fixture(scope="module")
def tables():
    figures = compute_figures(load_run(SUMMARY_PATH))
    return {t.key: t for t in build_tables(figures)}


def _row(table, first_cell: str) -> list[str]:
    for row in table.rows:
        if row[0].text == first_cell:
            return [c.text for c in row]
    raise AssertionError(f"no row {first_cell!r} in {table.key}: {[r[0].text for r in table.rows]}")


def test_markdown_report_matches_golden_file():
    # Regenerate after an intended change: UPDATE_GOLDEN=1 pytest tests/report/test_tables.py
    text = render_run(SUMMARY_PATH, "md")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_cost_figures_follow_from_tokens_and_prices(tables):
    # Opus: (641 x $5 + 4 x $25) / 1M = $0.003305; LoRA: (24 + 1) x $0.10 / 1M = $0.0000025.
    assert _row(tables["cost_per_request"], "Teacher: Claude Opus 4.6")[4] == "$0.0033"
    assert _row(tables["cost_per_request"], "Student: Qwen3-8B LoRA (Tinker)")[4] == "$0.0000025"
    # 1M requests/day: $3,305/day and x30 = $99,150/month for the teacher; $2.50/day for the student.
    assert _row(tables["cost_at_volume"], "1,000,000")[1:5] == ["$3,305", "$99,150", "$2.50", "$75"]
    assert _row(tables["savings"], "Cost ratio (teacher ÷ student per request)")[1] == "1,322×"


def test_tokens_and_compression(tables):
    assert _row(tables["tokens"], "Teacher: Claude Opus 4.6")[1:4] == ["641", "4", "645"]
    # 645 / 25 tokens = 25.8x fewer tokens per request.
    assert _row(tables["tokens"], "Student: Qwen3-8B LoRA (Tinker)")[1:5] == ["24", "1", "25", "25.8×"]


def test_break_even_from_one_time_cost(tables):
    # 2,000 labels x $0.003305 = $6.61; the trainer keeps 10% out, so 1,800 rows x 25 tokens x 4 epochs
    # x $0.30/1M = $0.054.
    table = tables["break_even"]
    assert _row(table, "One-time total")[1] == "$6.66"
    # $6.66 / ($3.305 - $0.0025 saved per day at 1,000/day) = 2.0 days.
    assert _row(table, "Break-even at 1,000/day")[1] == "2.0 days"


def test_every_table_marks_its_basis_and_cost_tables_name_the_pricing_table(tables):
    for table in tables.values():
        assert "Basis" in table.columns, table.key
        basis = [row[table.columns.index("Basis")].text for row in table.rows]
        assert set(basis) <= {"measured", "projected", "reference", "—"}, (table.key, basis)
    for key in ("cost_per_request", "cost_at_volume", "savings", "break_even"):
        assert any("pricing-2026-02.yaml (as of 2026-02-01" in note for note in tables[key].notes), key


def test_markdown_cells_escape_pipes_and_html():
    from distilleval.report.tables import Cell, Table

    table = Table("t", "T", ["Model", "Basis"], rows=[[Cell("a|b <script>"), Cell("measured")]])
    line = table_markdown(table).splitlines()[2]
    assert line == "| a\\|b &lt;script&gt; | measured |"


def test_report_without_spec_still_renders_and_says_why(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def lose_spec(summary):
        summary.spec.path = str(tmp_path / "gone.yaml")

    run = write_variant(tmp_path, lose_spec)
    figures = compute_figures(load_run(run))
    text = render_markdown(figures, build_tables(figures), decide(figures))
    assert "One-time cost | not computed" in text
    assert "spec could not be loaded" in text
    assert "Not enough evidence" in text


def test_paired_table_is_computed_when_the_summary_has_no_comparison(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def drop_comparisons(summary):
        summary.comparisons = []

    figures = compute_figures(load_run(write_variant(tmp_path, drop_comparisons)))
    table = {t.key: t for t in build_tables(figures)}["paired"]
    # The student's one timed-out item is missing data, not a loss: the comparison is over the 299
    # items both answered (2 teacher-only, 1 student-only right), where the recorded one, written
    # before failed calls were excluded, counted the timeout as a third loss (-0.7 pts, 3 / 1).
    assert [c.text for c in table.rows[0]][:5] == ["Qwen3-8B LoRA (Tinker) − Claude Opus 4.6", "-0.3 pts",
                                                   table.rows[0][2].text, "1", "2 / 1"]
    assert any("Computed by the report" in n for n in table.notes)


def test_per_class_table_matches_sklearn_on_the_items_and_lists_worst_first(tables):
    from sklearn.metrics import precision_recall_fscore_support

    from tests.ticket_routing_fixture import load_fixture

    summary = load_fixture()
    labels = [row[0].text for row in tables["per_class"].rows]
    assert labels == ["other", "technical", "billing", "account", "shipping", "abuse"]  # F1 ascending
    # Over the items the student answered: its one timed-out call is missing data, not a wrong label.
    answered = [item for item in summary.items if "student" not in item.errors]
    assert len(answered) == 299
    gold = [item.gold for item in answered]
    predicted = [item.outputs["student"].strip().lower() for item in answered]
    p, r, f, support = precision_recall_fscore_support(gold, predicted, labels=labels, average=None, zero_division=0.0)
    for i, row in enumerate(tables["per_class"].rows):
        assert row[1].value == support[i]
        assert (row[2].value, row[3].value, row[5].value) == (pytest.approx(p[i]), pytest.approx(r[i]), pytest.approx(f[i]))
    # The costliest confusions are the largest off-diagonal counts of the same predictions.
    top = tables["confusions"].rows[0]
    pairs = [(g, x) for g, x in zip(gold, predicted) if g != x]
    assert top[2].value == max(pairs.count(pair) for pair in set(pairs))


def _fixture_spec_with(tmp_path, traffic: str, teacher: str = ""):
    """A copy of the fixture's spec with extra ``traffic:`` (and ``teacher:``) lines."""
    import shutil

    spec_dir = tmp_path / "spec"
    shutil.copytree(FIXTURE_DIR, spec_dir)
    text = (spec_dir / "spec.yaml").read_text().replace(
        "  volumes_per_day: [1000, 100000, 1000000]\n", "  volumes_per_day: [1000, 100000, 1000000]\n" + traffic
    ).replace("  prompt: rubric.md\n", "  prompt: rubric.md\n" + teacher)
    (spec_dir / "spec.yaml").write_text(text)
    return spec_dir


def test_teacher_options_table_lists_each_honest_configuration(tmp_path):
    # The spec allows batching and projects 50% of the teacher's input from the prompt cache;
    # its system rubric is long enough for Claude Opus 4.6 to cache (4,096 tokens).
    spec_dir = _fixture_spec_with(tmp_path, "  cached_input_fraction: 0.5\n  batch_eligible: true\n", "  system: long.md\n")
    (spec_dir / "long.md").write_text("Route the message to the team that owns it. " * 600)
    figures = compute_figures(load_run(SUMMARY_PATH, spec_path=spec_dir / "spec.yaml"))
    table = next(t for t in build_tables(figures) if t.key == "teacher_options")
    labels = [row[0].value for row in table.rows]
    assert labels == ["list", "prompt_cache", "batch"]
    # Opus, 641 in / 4 out: list $0.003305; 50% cached (641 x (0.5 x $5 + 0.5 x $0.5) + 4 x $25) / 1M = $0.00186;
    # batch half of list = $0.0016525: the cheapest.
    costs = [row[1].value for row in table.rows]
    assert costs == pytest.approx([0.003305, (641 * 2.75 + 100) / 1e6, 0.0016525])
    assert table.rows[2][0].text.endswith("(cheapest)") and figures.cheapest_teacher.key == "batch"
    break_even = [cell.value for cell in table.rows[2][4:7]]
    assert break_even == [figures.option_break_even_days(figures.cheapest_teacher, v) for v in (1000, 100000, 1000000)]
    assert not any("No batch-tier row" in note for note in table.notes)


def test_a_rubric_anthropic_would_not_cache_gets_no_caching_row(tmp_path):
    # The fixture's rubric sits in the prompt (no system block to mark), far below Opus 4.6's
    # 4,096-token minimum: the spec's 50% cache share is not an honest configuration.
    spec_dir = _fixture_spec_with(tmp_path, "  cached_input_fraction: 0.5\n")
    figures = compute_figures(load_run(SUMMARY_PATH, spec_path=spec_dir / "spec.yaml"))
    assert [option.key for option in figures.teacher_options] == ["list"]
    assert any("no prompt-caching configuration: the spec's traffic.cached_input_fraction (50%) is not applied to "
               "anthropic/claude-opus-4-6: the teacher has no system rubric" in n for n in figures.notes)


def test_student_training_is_claimed_only_when_the_run_trained_it(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def note(run):
        table = next(t for t in build_tables(compute_figures(load_run(run))) if t.key == "accuracy")
        return table.notes[0]

    assert "trained" not in note(SUMMARY_PATH)  # an eval of a given checkpoint says nothing of its training

    def trained(summary):
        summary.student_training = "trained in this run on the teacher's labels (Qwen/Qwen3-8B LoRA, checkpoint tinker://x)"

    assert "; student trained in this run on the teacher's labels (Qwen/Qwen3-8B LoRA" in note(write_variant(tmp_path, trained))


def _variant_tables(tmp_path, change):
    from tests.ticket_routing_fixture import write_variant

    run = write_variant(tmp_path, change)
    return {t.key: t for t in build_tables(compute_figures(load_run(run)))}


def test_latency_table_shows_load_client_bound_probe_and_cached_originals(tmp_path):
    from distilleval.results.summary_json import Distribution, LatencyFigures

    def d(p50, p95, n):
        return Distribution(n=n, mean=p50, p50=p50, p95=p95, p99=p95)

    def change(summary):
        summary.models["teacher"].latency = LatencyFigures(concurrency=64, unloaded_ms=d(455, 470, 20), unloaded_concurrency=1)
        summary.models["student"].latency = LatencyFigures(
            concurrency=64, client_bound=True, client_bound_reason="event-loop lag p95 40.0 ms > 23.0 ms",
            unloaded_ms=d(35, 41, 20), unloaded_concurrency=1, original_ms=d(36, 44, 5))

    table = _variant_tables(tmp_path, change)["latency"]
    rows = [[c.text for c in row] for row in table.rows]
    assert rows[1][:4] == ["Teacher: Claude Opus 4.6", "unloaded (probe at concurrency 1)", "455 ms", "470 ms"]
    assert rows[2][1] == "under load at concurrency 64 (client-bound)"
    # Speed-ups compare like with like: the student's unloaded p50 against the teacher's unloaded p50.
    assert rows[3][1:5] == ["unloaded (probe at concurrency 1)", "35 ms", "41 ms", "13.0×"]
    assert rows[4][1] == "original calls, served from the cache" and rows[4][4] == "—" and rows[4][7] == "measured earlier"
    notes = " ".join(table.notes)
    assert "no gate judges them" in notes and "event-loop lag p95 40.0 ms" in notes and "--latency-probe" in notes
    assert "Original calls" in notes and "Unloaded" in notes


def test_truncated_answers_and_a_fully_cached_run_are_stated(tmp_path):
    def change(summary):
        summary.models["student"].truncated = 7
        for result in summary.models.values():
            if result.role in ("teacher", "student"):
                result.cache_hits = result.n - sum(result.errors.values())
                result.spent_usd = 0.0

    tables = _variant_tables(tmp_path, change)
    notes = " ".join(tables["accuracy"].notes)
    assert ("Student: Qwen3-8B LoRA (Tinker): 7 of 300 answers were cut at max_tokens (reached max_tokens) and are "
            "judged on their content. Where such an answer is not a valid output, raise max_tokens") in notes
    assert "Every call of this run came from the response cache: $0 spent" in notes
    assert "when the calls were first made" in " ".join(tables["tokens"].notes)
    plain = {t.key: t for t in build_tables(compute_figures(load_run(SUMMARY_PATH)))}
    assert "response cache" not in " ".join(plain["accuracy"].notes) and "truncated" not in " ".join(plain["accuracy"].notes)


@pytest.mark.parametrize("cut_invalid, advice", [(0, "each is a valid output, scored as such."),
                                                 (2, "2 of them are not a valid output (counted as invalid), the rest are "
                                                     "scored as given. Raise max_tokens for this model.")])
def test_raising_max_tokens_is_advised_only_when_a_cut_answer_is_invalid(tmp_path, cut_invalid, advice):
    def change(summary):
        summary.models["student"].truncated = 7
        summary.models["student"].truncated_invalid = cut_invalid

    notes = " ".join(_variant_tables(tmp_path, change)["accuracy"].notes)
    assert f"7 of 300 answers were cut at max_tokens (reached max_tokens) and are judged on their content: {advice}" in notes
    assert ("Raise max_tokens" in notes) == bool(cut_invalid)


def test_a_fully_cached_rerun_says_so_and_spent_nothing(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def from_cache(summary):
        for name in ("teacher", "student"):
            result = summary.models[name]
            result.cache_hits = result.n - sum(result.errors.values())
            result.spent_usd = 0.0
            result.cost_basis = "measured"  # an online eval prices the tokens its calls reported

    tables = {t.key: t for t in build_tables(compute_figures(load_run(write_variant(tmp_path, from_cache))))}
    tokens_note = tables["tokens"].notes[0]
    assert "in this run" not in tokens_note.split("every call")[0]
    assert "counted by the provider when the calls were first made; every call of this run came from the response cache" in tokens_note
    teacher_row = _row(tables["cost_per_request"], "Teacher: Claude Opus 4.6")
    assert (teacher_row[5], teacher_row[6]) == ("$0", "measured earlier (cached calls)")
    assert any("every call of this run came from the response cache, $0 spent" in n for n in tables["cost_per_request"].notes)
    assert not any("measured in this run" in n for n in tables["cost_per_request"].notes)


def test_offline_token_table_names_the_local_tokenizers(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def projected(summary):
        for name, counter in (("teacher", "cl100k_base (tiktoken)"), ("student", "Qwen/Qwen3-8B tokenizer and chat template")):
            summary.models[name].basis = "projected"
            summary.models[name].tokens_counted_by = counter

    tables = {t.key: t for t in build_tables(compute_figures(load_run(write_variant(tmp_path, projected))))}
    note = tables["tokens"].notes[0]
    assert "counted locally with cl100k_base (tiktoken)" in note
    assert "counted locally with Qwen/Qwen3-8B tokenizer and chat template" in note
    assert "provider" not in note


def test_savings_table_points_to_the_cheaper_configuration_when_there_is_one(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def cached_teacher(summary):
        teacher = summary.models["teacher"]
        teacher.cached_input_tokens_total = 0.9 * teacher.input_tokens.mean * teacher.input_tokens.n

    savings = {t.key: t for t in build_tables(compute_figures(load_run(write_variant(tmp_path, cached_teacher))))}["savings"]
    assert any("run at its cheapest (prompt caching (90% of input cached" in note for note in savings.notes)
    plain = {t.key: t for t in build_tables(compute_figures(load_run(SUMMARY_PATH)))}["savings"]
    assert not any("cheapest" in note for note in plain.notes)


@pytest.mark.parametrize(
    ("share", "shown"),
    [(-0.0375, "-3.8"), (0.8125 - 0.85, "-3.8"), (-0.03749999999999998, "-3.8"), (0.0125, "+1.3"),
     (0.0, "+0.0"), (-1e-12, "+0.0"), (0.123, "+12.3"), (-0.00049, "+0.0"), (-0.0005, "-0.1")],
)
def test_a_difference_prints_one_way_however_it_was_computed(share, shown):
    """Issue 21: b − a of the means and the mean of b − a (float noise apart) once printed -3.7 and -3.8."""
    from distilleval.report.tables import signed_points

    assert signed_points(share) == shown


def test_an_unknown_difference_prints_a_dash():
    """A comparison with no paired items has no difference or bounds: a dash, not a crash."""
    from distilleval.report.tables import DASH, signed_points

    assert signed_points(None) == DASH


def test_the_verdict_and_the_paired_table_print_the_same_difference():
    figures = compute_figures(load_run(SUMMARY_PATH))
    tables = {table.key: table for table in build_tables(figures)}
    verdict = decide(figures)
    difference = next(row[1].text for row in tables["paired"].rows if row[0].value == f"{figures.student.key}-{figures.teacher.key}")
    reason = next(reason.text for reason in verdict.reasons if reason.rule == "non-inferiority")
    assert f"student − teacher {difference}" in reason


def test_the_p_beside_each_teacher_comparison_agrees_with_its_interval(tmp_path):
    # 50 items, 13 only the teacher got right and 4 only the student: McNemar's exact p is 0.049
    # while the score interval reaches 0; the table prints the score test's p (0.052), which agrees.
    from distilleval.results.statistics import compare_paired
    from tests.ticket_routing_fixture import write_variant

    teacher = [1.0] * 13 + [0.0] * 4 + [1.0] * 30 + [0.0] * 3
    student = [0.0] * 13 + [1.0] * 4 + [1.0] * 30 + [0.0] * 3
    comparison = compare_paired("teacher", "student", teacher, student)
    assert comparison.mcnemar_p < 0.05 <= comparison.p_value

    def replace_comparison(summary):
        summary.comparisons = [comparison.model_copy(update={"a": summary.comparisons[0].a,
                                                             "b": summary.comparisons[0].b})]

    figures = compute_figures(load_run(write_variant(tmp_path, replace_comparison)))
    table = {t.key: t for t in build_tables(figures)}["paired"]
    assert "McNemar p" not in table.columns
    p_cell, ci_cell = table.rows[0][3], table.rows[0][2]
    assert p_cell.value == comparison.p_value
    low, high = (float(v) for v in ci_cell.value.split(","))
    assert (p_cell.value < 0.05) == (low > 0 or high < 0)


def test_no_cost_or_break_even_figure_depends_on_accuracy(tmp_path):
    # docs/statistics.md says cost figures carry no accuracy interval because none depends on
    # accuracy: a student that gets every item wrong prints the same cost tables.
    from tests.ticket_routing_fixture import write_variant

    def student_always_wrong(summary):
        for item in summary.items:
            item.scores = {model: (0.0 if model == "student" and score is not None else score)
                           for model, score in item.scores.items()}
        summary.models["student"].metric.value = 0.0

    def cost_tables(path):
        keys = ("cost_per_request", "cost_at_volume", "savings", "break_even", "teacher_options")
        figures = compute_figures(load_run(path))
        built = {t.key: t for t in build_tables(figures)}
        tables = {key: [[cell.text for cell in row] for row in built[key].rows] for key in keys if key in built}
        # The verdict's cost and break-even reasons too (its accuracy reasons do change).
        tables["verdict"] = [r.text for r in decide(figures).reasons if r.rule in ("cost", "break-even")]
        return tables

    wrong = cost_tables(write_variant(tmp_path, student_always_wrong))
    assert wrong and wrong == cost_tables(SUMMARY_PATH)
    assert {"cost_per_request", "break_even"} <= set(wrong) and len(wrong["verdict"]) == 2


def test_the_cached_pricing_note_names_the_rate_really_applied(tmp_path):
    # Issue 26 item 5: the note said every model's cached input was priced at the cached rate,
    # also for a model whose price row has none (its cached tokens cost the full input rate).
    def cached(summary):
        for name in ("teacher", "student"):
            summary.models[name].cached_input_tokens_total = summary.models[name].input_tokens_total * 0.6

    notes = _variant_tables(tmp_path, cached)["cost_per_request"].notes
    teacher = next(n for n in notes if n.startswith("Teacher: Claude Opus 4.6: 60% of input tokens read from the prompt cache"))
    student = next(n for n in notes if n.startswith("Student: Qwen3-8B LoRA (Tinker): 60% of input tokens read from the prompt cache"))
    assert teacher.endswith("priced at the cached-input rate of anthropic/claude-opus-4-6 ($0.50/1M tokens).")
    assert student.endswith("priced at the full input rate: the pricing table has no cached-input rate for tinker/lora.")
    assert "cached-input rate of" not in student
