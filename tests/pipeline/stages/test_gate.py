"""``distilleval.check_gates``: the checks and the outcome ``distilleval gate`` prints, as a result."""

from __future__ import annotations

import pytest

import distilleval
from tests.ticket_routing_fixture import SUMMARY_PATH, set_scores, write_variant


def test_a_passing_run(capsys):
    result = distilleval.check_gates(SUMMARY_PATH)
    assert capsys.readouterr().out == ""
    assert isinstance(result, distilleval.GateResult)
    assert result.passed and result.judged and result.failed == 0
    assert len(result.checks) == 8 and result.spec == "ticket_routing"


def test_a_significant_drop_against_a_baseline_fails(tmp_path):
    def drop(summary):
        wrong = {item.id for item in summary.items if item.scores["student"] == 0.0}
        right = [item.id for item in summary.items if item.id not in wrong]
        set_scores(summary, "student", wrong | set(right[100:130]))

    result = distilleval.check_gates(write_variant(tmp_path, drop, name="pr"), baseline=SUMMARY_PATH)
    assert not result.passed and result.failed >= 1
    assert "paired_drop[student]" in {check.name for check in result.checks if check.status == "fail"}


def test_a_missing_run_is_a_one_line_error(tmp_path):
    with pytest.raises(distilleval.DistillevalError, match="summary not found"):
        distilleval.check_gates(tmp_path / "missing.json")
