"""The cross-use-case table: one row per use case, full precision kept, every format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from distilleval.costs.pricing import load_pricing
from distilleval.costs.tables import PricedModel, TokenProfile, price_profile
from distilleval.costs.use_case_table import (
    UseCase,
    build_use_case_table,
    render_use_case_table,
    use_case_headers,
)


def _case(name="ticket_routing", teacher_cost=0.0011795, student_cost=0.0000025, student_basis="projected"):
    return UseCase(
        name,
        PricedModel("openai/gpt-5.2", "GPT-5.2", teacher_cost, "measured"),
        PricedModel("tinker/lora", "Tinker LoRA", student_cost, student_basis),
        "prices.yaml (as of 2026-02-01, sha256 0123abcd)",
    )


def test_price_profile_is_the_per_request_formula():
    # The seed deck priced GPT-5.2 at $0.000641/request for 641 in, 4 out; 641 x $1.75 + 4 x $14 per 1M is $0.00118.
    priced = price_profile(TokenProfile("openai/gpt-5.2", 641, 4), load_pricing())
    assert priced.cost_per_request_usd == pytest.approx((641 * 1.75 + 4 * 14.0) / 1e6)
    assert (priced.label, priced.basis) == ("GPT-5.2", "projected")


def test_monthly_figures_and_saving_per_volume():
    table = build_use_case_table([_case()], volumes_per_day=[1_000, 100_000], days_per_month=30.0)
    row = table.rows[0]
    assert row.teacher_per_month_usd[100_000] == pytest.approx(0.0011795 * 100_000 * 30)
    assert row.student_per_month_usd[1_000] == pytest.approx(0.0000025 * 1_000 * 30)
    assert row.saving_per_month_usd[100_000] == pytest.approx((0.0011795 - 0.0000025) * 100_000 * 30)
    assert row.savings_ratio == pytest.approx(0.0011795 / 0.0000025)


def test_basis_names_both_figures_when_they_differ():
    row = build_use_case_table([_case()], volumes_per_day=[100_000]).rows[0]
    assert row.basis == "teacher measured, student projected"
    same = build_use_case_table([_case(student_basis="measured")], volumes_per_day=[100_000]).rows[0]
    assert same.basis == "measured"


def test_markdown_names_teacher_and_student_and_the_pricing_table():
    table = build_use_case_table([_case(), _case("sql_generation", 0.002, 0.00001)], volumes_per_day=[100_000])
    text = render_use_case_table(table, "md")
    lines = text.splitlines()
    assert [cell.strip() for cell in lines[0].strip("|").split("|")] == use_case_headers(table)
    assert "| ticket_routing " in lines[2] and "GPT-5.2" in lines[2] and "Tinker LoRA" in lines[2]
    assert "$3,539" in lines[2]  # 0.0011795 x 100K x 30 = 3538.5, rounded half up
    assert text.rstrip().endswith("Prices: prices.yaml (as of 2026-02-01, sha256 0123abcd); 30-day month; rounded for display only.")


def test_csv_and_json_keep_full_precision_and_both_bases():
    table = build_use_case_table([_case()], volumes_per_day=[100_000])
    record = next(csv.DictReader(io.StringIO(render_use_case_table(table, "csv"))))
    assert float(record["teacher_per_month_usd_100000"]) == 0.0011795 * 100_000 * 30
    assert (record["teacher_basis"], record["student_basis"]) == ("measured", "projected")
    data = json.loads(render_use_case_table(table, "json"))
    assert data["rows"][0]["saving_per_month_usd"]["100000"] == pytest.approx((0.0011795 - 0.0000025) * 3e6)
    assert data["pricing_labels"] == ["prices.yaml (as of 2026-02-01, sha256 0123abcd)"]


def test_free_student_has_no_finite_ratio_in_json():
    table = build_use_case_table([_case(student_cost=0.0)], volumes_per_day=[100_000])
    assert json.loads(render_use_case_table(table, "json"))["rows"][0]["savings_ratio"] is None


def test_marp_and_latex():
    table = build_use_case_table([_case()], volumes_per_day=[100_000])
    marp = render_use_case_table(table, "marp")
    assert marp.startswith("---\nmarp: true\n") and "# Cost across use cases" in marp and "| ticket_routing" in marp
    latex = render_use_case_table(table, "latex")
    assert r"\toprule" in latex and r"\$3,539" in latex
