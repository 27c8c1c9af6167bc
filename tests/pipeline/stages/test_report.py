"""``distilleval.render_report``: the text ``distilleval report`` prints, as a result."""

from __future__ import annotations

import pytest

import distilleval
from distilleval.cli.main import main
from tests.ticket_routing_fixture import SUMMARY_PATH


def test_the_report_text_is_what_the_command_prints(capsys):
    result = distilleval.render_report(SUMMARY_PATH, format="csv")
    assert capsys.readouterr().out == ""
    assert isinstance(result, distilleval.ReportResult) and result.format == "csv"
    assert main(["report", str(SUMMARY_PATH), "--format", "csv"]) == 0
    assert capsys.readouterr().out == result.text


def test_a_payback_horizon_that_is_not_positive_is_refused():
    with pytest.raises(distilleval.DistillevalError, match="--payback-days must be positive, got 0"):
        distilleval.render_report(SUMMARY_PATH, payback_days=0)
