"""`distilleval compare`: item-paired comparison of two runs, per model, Holm-corrected across models.

The simulation ("nothing changed", every item re-drawn) mirrors tests/gate/test_family.py:
each item has a chance of being right, one per model, drawn from Beta(1.7, 0.3) (mean 85%) or
fixed at 85%; run A and run B each answer it right with that chance, independently. Each cell
is 2,000 seeded replicates, drawn as counts with numpy and decided by the command's own
functions (McNemar's exact p from ``distilleval.results.statistics`` and ``holm_arrays`` at
``alpha``); ``test_the_vectorised_decisions_are_compares`` checks they decide as
``change_family`` does. The family-wise rate of reporting any change must stay at most
alpha + 1 point + 2 Monte Carlo standard errors (tests/montecarlo.py).
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from distilleval.cli.main import main
from distilleval.commands.compare import change_family
from distilleval.results.families import holm_arrays
from distilleval.results.statistics import mcnemar_exact
from tests.montecarlo import DENSE, REPLICATES, error_rate_bound
from tests.ticket_routing_fixture import SUMMARY_PATH, load_fixture, set_scores, write_variant

ALPHA = 0.05
SIZES = (100, 300, 1_000) + ((50, 2_000) if DENSE else ())
FAMILY_SIZES = (2, 3, 4, 5) + ((8, 10) if DENSE else ())

_mcnemar = np.vectorize(lru_cache(maxsize=None)(mcnemar_exact), otypes=[float])


def _json_rows(capsys, run_a, run_b, *extra) -> tuple[dict, dict[str, dict]]:
    assert main(["compare", str(run_a), str(run_b), "--format", "json", *extra]) == 0
    document = json.loads(capsys.readouterr().out)
    return document, {row["model"]: row for row in document["models"]}


def test_compare_flags_only_the_model_that_really_dropped(capsys, tmp_path):
    def change(summary):
        student_wrong = {item.id for item in summary.items if item.scores["student"] == 0.0}
        set_scores(summary, "student", student_wrong | {item.id for item in summary.items[:25]})
        teacher_wrong = {item.id for item in summary.items if item.scores["teacher"] == 0.0}
        # Two teacher items flip: a visible change that is noise (p = 0.5).
        set_scores(summary, "teacher", teacher_wrong | {summary.items[200].id, summary.items[201].id})

    run_b = write_variant(tmp_path, change, name="b")
    document, rows = _json_rows(capsys, SUMMARY_PATH, run_b)
    assert document["correction"] == {"method": "holm", "comparisons": 3, "family_alpha": 0.05}
    assert rows["student"]["outcome"] == "significant drop"
    assert rows["student"]["lost"] >= 20 and rows["student"]["gained"] == 0
    assert rows["student"]["adjusted_p"] == pytest.approx(3 * rows["student"]["p_value"])  # Holm's first step
    assert rows["student"]["ci_high"] < 0 and rows["student"]["ci_confidence"] == pytest.approx(1 - 0.05 / 3)
    assert rows["teacher"]["outcome"] == "no significant change"
    assert rows["tfidf_logreg"]["difference"] == 0.0


def test_compare_markdown_names_the_test_the_correction_and_the_dropped_items(capsys):
    assert main(["compare", str(SUMMARY_PATH), str(SUMMARY_PATH)]) == 0
    out = capsys.readouterr().out
    assert "| McNemar exact, two-sided |" in out and "McNemar exact (two-sided) with exact conditional interval" in out
    # The fixture's student timed out on one item: 299 paired, 1 dropped.
    assert "| 299 | 1 | no significant change |" in out and "| 300 | 0 | no significant change |" in out
    assert "Holm's step-down correction over 3 comparisons (one per model): family-wise significance level 0.05" in out
    assert "- student: 1 item dropped because a call failed in run A or B; compared over the 299 items both runs answered" in out
    assert "- teacher: 0 items dropped because a call failed" in out


def test_failed_calls_in_either_run_are_dropped_and_counted(capsys, tmp_path):
    def fail_student(ids):
        def change(summary):
            for item in summary.items:
                if item.id in ids:
                    item.errors["student"] = "rate_limited"
                    item.scores["student"] = None
                    item.outputs["student"] = None
        return change

    items = [item.id for item in load_fixture().items if not item.errors]
    run_a = write_variant(tmp_path, fail_student(set(items[:4])), name="a")
    run_b = write_variant(tmp_path, fail_student(set(items[2:12])), name="b")
    _, rows = _json_rows(capsys, run_a, run_b)
    # Items 0-11 failed in one run or the other, plus the fixture's own timed-out item (t0057).
    assert rows["student"]["dropped_failed"] == 13 and rows["student"]["n_paired"] == 287
    assert rows["teacher"]["dropped_failed"] == 0 and rows["teacher"]["n_paired"] == 300
    assert main(["compare", str(run_a), str(run_b)]) == 0
    assert "- student: 13 items dropped because a call failed in run A or B; compared over the 287 items" in (
        capsys.readouterr().out)


def test_a_change_significant_alone_is_not_claimed_among_three_models(capsys, tmp_path):
    # The teacher loses 8 items and gains 1: McNemar p = 0.039, below 0.05 alone, but above
    # Holm's first step (0.05 / 3) when three models are compared.
    def change(summary):
        right = [item.id for item in summary.items if item.scores["teacher"] == 1.0]
        wrong = [item.id for item in summary.items if item.scores["teacher"] == 0.0]
        set_scores(summary, "teacher", (set(wrong) - {wrong[0]}) | set(right[:8]))

    def only_teacher(edit=None):
        def apply(summary):
            if edit:
                edit(summary)
            for key in ("student", "tfidf_logreg"):
                del summary.models[key]
        return apply

    run_b = write_variant(tmp_path, change, name="b")
    _, rows = _json_rows(capsys, SUMMARY_PATH, run_b)
    assert (rows["teacher"]["lost"], rows["teacher"]["gained"]) == (8, 1)
    assert rows["teacher"]["p_value"] == pytest.approx(0.0390625)
    assert rows["teacher"]["adjusted_p"] == pytest.approx(3 * 0.0390625)
    assert rows["teacher"]["outcome"] == "no significant change"
    # The same teacher change compared alone is one comparison, decided at 0.05.
    document, rows = _json_rows(capsys, write_variant(tmp_path, only_teacher(), name="a1"),
                                write_variant(tmp_path, only_teacher(change), name="b1"))
    assert document["correction"]["comparisons"] == 1
    assert rows["teacher"]["outcome"] == "significant drop" and rows["teacher"]["ci_high"] < 0
    assert main(["compare", str(tmp_path / "a1"), str(tmp_path / "b1")]) == 0
    assert "One comparison: no correction needed (significance level 0.05)." in capsys.readouterr().out


def test_partial_credit_scores_get_the_sign_flip_test(capsys, tmp_path):
    def change(summary):
        for item in summary.items[:40]:
            item.scores["tfidf_logreg"] = 0.5

    _, rows = _json_rows(capsys, SUMMARY_PATH, write_variant(tmp_path, change, name="b"))
    row = rows["tfidf_logreg"]
    assert row["test"].startswith("paired sign-flip test") and row["interval"] == "interval inverting the paired sign-flip test"
    assert row["lost"] is None and row["p_value"] is not None and row["difference"] < 0


def test_compare_runs_of_different_specs_exits_2(capsys, tmp_path):
    def other(summary):
        summary.spec_name = "pii_detection"

    assert main(["compare", str(SUMMARY_PATH), str(write_variant(tmp_path, other))]) == 2
    assert "different specs" in capsys.readouterr().err


# --- the family-wise error rate, simulated -------------------------------------------------


def redrawn_counts(rng: np.random.Generator, models: int, n: int, *, varying: bool) -> tuple[np.ndarray, np.ndarray]:
    """Items lost and gained per (replicate, model) when both runs re-draw every item at the same accuracy."""
    shape = (REPLICATES, models, n)
    accuracy = rng.beta(1.7, 0.3, shape) if varying else np.full(shape, 0.85)
    flip = accuracy * (1 - accuracy)  # P(lost) = P(gained) for the item
    u = rng.random(shape)
    return (u < flip).sum(axis=-1), (u > 1 - flip).sum(axis=-1)


def false_change_rate(lost: np.ndarray, gained: np.ndarray) -> float:
    """Share of replicates where compare reports a significant change in at least one model."""
    _, rejected, _ = holm_arrays(_mcnemar(lost, gained), ALPHA)
    return float(np.mean(np.any(rejected, axis=-1)))


@pytest.mark.parametrize("varying", [True, False], ids=["varying-difficulty", "every-item-85pct"])
@pytest.mark.parametrize("n", SIZES)
def test_with_nothing_changed_compare_reports_a_change_at_most_at_alpha_for_2_to_5_models(n, varying):
    rng = np.random.default_rng(2000 + n + varying)
    lost, gained = redrawn_counts(rng, max(FAMILY_SIZES), n, varying=varying)
    rates = {k: false_change_rate(lost[:, :k], gained[:, :k]) for k in FAMILY_SIZES}
    bound = error_rate_bound(ALPHA)
    assert all(rate <= bound for rate in rates.values()), (n, varying, rates, bound)


def test_without_the_correction_five_models_would_report_noise_far_more_often():
    # The same replicates decided one by one at alpha: the family error grows with K.
    rng = np.random.default_rng(11)
    lost, gained = redrawn_counts(rng, 5, 300, varying=True)
    uncorrected = float(np.mean(np.any(_mcnemar(lost, gained) <= ALPHA, axis=-1)))
    assert uncorrected > error_rate_bound(ALPHA) > false_change_rate(lost, gained)


def test_the_vectorised_decisions_are_compares():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = 200
        pairs, counts = {}, []
        for k in range(4):
            a = (rng.random(n) < 0.85).astype(float)
            b = a.copy()
            flips = rng.choice(n, size=int(rng.integers(0, 30)), replace=False)
            b[flips] = 1 - b[flips] if k else 0.0  # model 0 only ever loses
            pairs[f"m{k}"] = (list(a), list(b))
            counts.append((int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))))
        changes = change_family(pairs, alpha=ALPHA)
        lost, gained = (np.array([[c[i] for c in counts]]) for i in (0, 1))
        _, rejected, _ = holm_arrays(_mcnemar(lost, gained), ALPHA)
        assert [c.outcome != "no significant change" for c in changes] == list(rejected[0])
        assert [c.outcome == "significant drop" for c in changes] == list(rejected[0] & (lost > gained)[0])


def test_judge_scored_runs_are_compared_on_the_corrected_difference(capsys, tmp_path):
    from tests.gate.test_judged import expected_student_difference, judged_runs, worse_student

    run_a, run_b = judged_runs(tmp_path, student_b=worse_student)
    raw, corrected = expected_student_difference(run_a)
    capsys.readouterr()
    _, rows = _json_rows(capsys, run_a, run_b)
    student = rows["student"]
    assert student["raw_difference"] == pytest.approx(raw) and student["difference"] == pytest.approx(corrected)
    assert student["ci_low"] <= corrected <= student["ci_high"] < 0
    assert "Youden J" in student["interval"] and student["outcome"] == "significant drop"
    assert student["ci_confidence"] == pytest.approx(1 - 0.05 / 2)  # Holm's first step of two
    assert rows["teacher"]["difference"] == 0.0 and rows["teacher"]["outcome"] == "no significant change"
    assert main(["compare", str(run_a), str(run_b)]) == 0
    out = capsys.readouterr().out
    assert "corrected for the judge's measured error" in out
    assert f"- student: {student['raw_a']:.4f} → {student['raw_b']:.4f} ({raw:+.4f})" in out


def test_judge_scored_runs_of_different_judges_are_not_compared(capsys, tmp_path):
    from tests.gate.test_judged import judged_runs

    run_a, run_b = judged_runs(tmp_path, judge_b="openai/judge-n")
    capsys.readouterr()
    document, rows = _json_rows(capsys, run_a, run_b)
    assert document["correction"]["comparisons"] == 0
    for row in rows.values():
        assert row["p_value"] is None and row["difference"] is None
        assert row["outcome"].startswith("not compared: the runs are not comparable on corrected figures")
        assert "judge openai/judge-m vs openai/judge-n" in row["outcome"]
