"""Checking a pasted slide table against computed figures, cell by cell."""

from __future__ import annotations

import pytest

from distilleval.costs.slide_check import check_slide, parse_figure, read_markdown_table
from distilleval.costs.tables import PricedModel
from distilleval.costs.use_case_table import (
    UseCase,
    build_use_case_table,
    render_use_case_table,
    use_case_headers,
)
from distilleval.errors import DataError


def _table():
    case = UseCase(
        "ticket_routing",
        PricedModel("openai/gpt-5.2", "GPT-5.2", (641 * 1.75 + 4 * 14.0) / 1e6, "projected"),
        PricedModel("tinker/lora", "Tinker LoRA", 0.0000025, "projected"),
        "prices.yaml (as of 2026-02-01, sha256 0123abcd)",
    )
    return build_use_case_table([case], volumes_per_day=[100_000])


SLIDE = """# Cost Summary

Intro text.

| Use case | Teacher | Student | Teacher $/request | Student $/request | Savings | Teacher / month @ 100K/day | Notes |
|---|---|---|---|---|---|---|---|
| Ticket routing | openai/gpt-5.2 | Tinker LoRA | $0.000641 | $0.0000025 | 470x | $3.5K | yes |
| Fraud scoring | GPT-5.2 | Tinker LoRA | $0.01 | $0.001 | 10x | $30K | |
"""


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("$0.0012", (0.0012, 0.00005)),
        ("$35,333", (35333.0, 0.5)),
        ("$35K", (35000.0, 500.0)),
        ("1,322x", (1322.0, 0.5)),
        ("**$1.5M**", (1_500_000.0, 50_000.0)),
        ("-$3.31", (-3.31, 0.005)),
        ("GPT-5.2", None),
        ("", None),
    ],
)
def test_parse_figure(cell, expected):
    found = parse_figure(cell)
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected)


def test_wrong_cells_are_reported_with_line_and_difference(tmp_path):
    slide = tmp_path / "deck.md"
    slide.write_text(SLIDE)
    result = check_slide(_table(), read_markdown_table(slide))
    by_column = {d.column: d for d in result.differences}
    # $0.000641 is not $0.00117775 at any rounding; 470x is not 471.1x; the model id stands for the
    # teacher's display name, and $3.5K is $3,533.25 shown to the nearest hundred.
    assert set(by_column) == {"Teacher $/request", "Savings"}
    wrong = by_column["Teacher $/request"]
    assert wrong.line == 7 and wrong.use_case == "ticket_routing"
    assert wrong.slide_value == 0.000641 and wrong.computed_value == pytest.approx(0.00117775)
    assert wrong.describe(slide) == f"{slide}:7: ticket_routing / Teacher $/request: slide $0.000641, computed $0.0012 (slide -0.00053675, -45.6%)"
    assert by_column["Savings"].computed == "471x"
    assert result.unknown_rows == [(8, "Fraud scoring")]
    assert result.unchecked_columns == ["Notes"]
    assert result.cells_checked == 6


def test_the_rendered_table_checks_clean(tmp_path):
    table = _table()
    slide = tmp_path / "ours.md"
    slide.write_text(render_use_case_table(table, "md"))
    result = check_slide(table, read_markdown_table(slide))
    assert result.differences == [] and result.unknown_rows == [] and result.unchecked_columns == []
    assert result.cells_checked == len(use_case_headers(table)) - 1  # every column but the use case


def test_wrong_teacher_name_is_a_difference(tmp_path):
    slide = tmp_path / "deck.md"
    slide.write_text("| Use case | Teacher |\n|--|--|\n| ticket_routing | Claude Opus 4.6 |\n")
    (difference,) = check_slide(_table(), read_markdown_table(slide)).differences
    assert (difference.slide, difference.computed, difference.line) == ("Claude Opus 4.6", "GPT-5.2", 3)


def test_a_file_without_a_table_is_a_one_line_error(tmp_path):
    slide = tmp_path / "empty.md"
    slide.write_text("# Just a title\n\n| not a table\n")
    with pytest.raises(DataError, match=rf"^{slide}:1: no markdown table found"):
        read_markdown_table(slide)
