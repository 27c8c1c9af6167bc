"""The conformance suite: every interval and test the tool prints holds its stated level.

Exact cells sum the probability of every possible count outcome through the tool's own
functions; Monte Carlo cells are seeded. Rule (``Cell.holds``): coverage >= nominal - 1 point,
error <= nominal + 1 point, Monte Carlo cells widened by two standard errors.
``DISTILLEVAL_DENSE_STATS=1`` runs the denser grid (every size 50..300 and every discordance
1%..40% for non-inferiority; more Monte Carlo cells).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from distilleval.results import conformance

DENSE = os.environ.get("DISTILLEVAL_DENSE_STATS") == "1"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _broken(cells):
    return [(c.statement, c.parameters, round(c.measured, 5)) for c in cells if not c.holds()]


def test_accuracy_interval_covers_at_every_p():
    cells = conformance.accuracy_cells()
    assert len(cells) == 4 * 100
    assert _broken(cells) == []
    # Clopper-Pearson is exact: not even the one-point slack is used.
    assert min(c.measured for c in cells) >= 0.95


def test_non_inferiority_type_one_error_at_the_margin_over_sizes_50_to_5000():
    sizes = conformance.DENSE_NI_SIZES if DENSE else conformance.NI_SIZES
    discordances = conformance.DENSE_DISCORDANCES if DENSE else conformance.DISCORDANCES
    cells = conformance.non_inferiority_cells(sizes, conformance.MARGINS, discordances)
    assert _broken(cells) == []
    # Issue 19 asks for the nominal level itself: neither decision needs the one-point slack.
    assert max(c.measured for c in cells) <= conformance.ALPHA


def test_the_uncorrected_score_test_would_break_the_rule():
    """The continuity correction is needed: without it the same grid errs 6.9% (n=88, margin 3%)."""
    import numpy as np

    from distilleval.results import paired_proportions

    a, b, mass = conformance._paired_outcomes(88, 0.03, 0.0)
    z = paired_proportions.score_z(a, b, 88, -0.03, continuity=0.0)
    assert float(mass[z > paired_proportions.normal_quantile(0.95)].sum()) > 0.06
    decided = paired_proportions.decide_non_inferiority(a, b, 88, 0.03, 0.05)
    assert float(mass[decided == "non-inferior"].sum()) <= 0.05
    assert np.isclose(mass.sum(), 1.0)


def test_paired_score_interval_covers_over_the_paired_grid():
    cells = conformance.paired_interval_cells()
    assert _broken(cells) == []
    # Every bound keeps its nominal level itself, not only nominal - 1 point.
    assert min(c.measured for c in cells) >= 0.95


def test_gate_test_and_interval_hold_their_levels():
    cells = conformance.gate_cells()
    assert _broken(cells) == []


def test_bounded_score_and_micro_f1_intervals_by_monte_carlo():
    if DENSE:
        cells = conformance.monte_carlo_cells(conformance.DENSE_MC_SIZES, conformance.DENSE_MC_MEANS,
                                              n_resamples=conformance.DENSE_MC_RESAMPLES)
    else:
        # 800 draws a cell (the page uses MC_REPLICATES): the bound widens by two Monte Carlo standard
        # errors of this many draws, so a smaller run is as strict about a real shortfall, and 2.5x faster.
        cells = conformance.monte_carlo_cells(conformance.MC_SIZES, conformance.MC_MEANS,
                                              n_resamples=conformance.MC_RESAMPLES, replicates=800)
    assert all(c.mc_se > 0 for c in cells)
    assert _broken(cells) == []


def test_holm_families_and_the_learning_curve_hold_their_levels_by_monte_carlo():
    cells = conformance.family_cells() + conformance.learning_curve_cells()
    assert all(c.mc_se > 0 and not c.exact for c in cells)
    assert _broken(cells) == []


def test_the_page_lists_the_families_the_learning_curve_and_the_p_beside_the_interval():
    stored = json.loads((DOCS / "statistics.json").read_text(encoding="utf-8"))
    listed = {row["statement"] for row in stored["summary"]}
    small = (conformance.family_cells(sizes=(100,), family_sizes=(2,), replicates=50)
             + conformance.learning_curve_cells(grid=((2, 2),), replicates=50))
    assert {c.statement for c in small} <= listed
    assert "student − teacher p < alpha with no difference" in listed
    page = (DOCS / "statistics.md").read_text(encoding="utf-8")
    assert "no printed cost figure depends on accuracy" in page


def test_recomputing_some_sections_keeps_the_others(tmp_path):
    for name in ("statistics.json", "statistics.md"):
        shutil.copy(DOCS / name, tmp_path / name)
    assert conformance.main(["--docs", str(tmp_path), "--only", "learning_curve"]) == 0
    before = json.loads((DOCS / "statistics.json").read_text(encoding="utf-8"))
    after = json.loads((tmp_path / "statistics.json").read_text(encoding="utf-8"))
    assert [row["statement"] for row in after["summary"]] == [row["statement"] for row in before["summary"]]
    assert after["cells"]["accuracy"] == before["cells"]["accuracy"]
    assert (tmp_path / "statistics.md").read_text(encoding="utf-8") == conformance.render(after["summary"])


def test_the_committed_page_is_the_rendering_of_the_committed_results():
    stored = json.loads((DOCS / "statistics.json").read_text(encoding="utf-8"))
    assert (DOCS / "statistics.md").read_text(encoding="utf-8") == conformance.render(stored["summary"])
    assert all(row["failing"] == 0 for row in stored["summary"])


@pytest.mark.parametrize("section", ["accuracy", "non_inferiority", "gate"])
def test_the_committed_results_match_a_recomputed_subset(section):
    """A cheap subset of exact cells recomputed now equals the stored results (so the page is
    out of date as soon as the code behind it changes)."""
    stored = json.loads((DOCS / "statistics.json").read_text(encoding="utf-8"))["cells"][section]
    if section == "accuracy":
        fresh = conformance.accuracy_cells(sizes=(20,))
    elif section == "non_inferiority":
        fresh = conformance.non_inferiority_cells((88, 300), (0.03,), (0.03, 0.10))
    else:
        fresh = conformance.gate_cells((50,), (0.05,))
    by_key = {(c["statement"], json.dumps(c["parameters"], sort_keys=True)): c for c in stored}
    for cell in fresh:
        old = by_key[(cell.statement, json.dumps(cell.parameters, sort_keys=True))]
        assert old["method"] == cell.method
        assert old["measured"] == pytest.approx(cell.measured, abs=1e-12)
