"""Pick a renderer by format name and produce the report text for a run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from distilleval.costs.pricing import DEFAULT_MAX_PRICE_AGE_DAYS
from distilleval.report.figures import Figures, compute_figures
from distilleval.report.sources import load_run
from distilleval.report.tables import Table, build_tables
from distilleval.report.verdict import DEFAULT_PAYBACK_HORIZON_DAYS, Verdict, decide

FORMATS = ("md", "html", "csv", "json", "marp", "latex")
EXTENSIONS = {"md": ".md", "html": ".html", "csv": ".csv", "json": ".json", "marp": ".marp.md", "latex": ".tex"}


def _renderer(fmt: str) -> Callable[[Figures, list[Table], Verdict], str]:
    if fmt == "md":
        from distilleval.report.markdown import render_markdown as fn
    elif fmt == "marp":
        from distilleval.report.marp import render_marp as fn
    elif fmt == "html":
        from distilleval.report.html import render_html as fn
    elif fmt == "csv":
        from distilleval.report.data_formats import render_csv as fn
    elif fmt == "json":
        from distilleval.report.data_formats import render_json as fn
    elif fmt == "latex":
        from distilleval.report.data_formats import render_latex as fn
    else:
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fn


def _with_pareto(tables: list[Table], figures: Figures, verdict: Verdict) -> list[Table]:
    """The Pareto-front table first among the tables, when the run has arms to compare."""
    from distilleval.report.pareto import pareto_table

    if verdict.recommendation is None:
        return tables
    table = pareto_table(verdict.recommendation, figures.summary.primary_metric)
    return [table, *tables] if table.rows else tables


def render_run(run: str | Path, fmt: str = "md", *, spec_path: str | Path | None = None,
               pricing_path: str | Path | None = None, payback_horizon_days: float = DEFAULT_PAYBACK_HORIZON_DAYS,
               max_price_age_days: int = DEFAULT_MAX_PRICE_AGE_DAYS) -> str:
    """Render a run's report.

    Args:
        run: run directory or summary.json.
        fmt: one of ``FORMATS``.
        spec_path: override the spec the summary names.
        pricing_path: override the pricing table the summary names.
        payback_horizon_days: the verdict's payback horizon (see ``verdict.decide``).
        max_price_age_days: prices read longer than this before the run are flagged in the notes.

    Returns:
        The report text.

    Raises:
        DataError: the summary is missing or invalid, the spec is a different task, or the spec
            or pricing table the verdict needs is neither in the run folder nor where the run
            names it (the report is never judged with default margins or floors instead).
    """
    from distilleval.report.learning_curve import curve_chart, curve_tables, run_curve

    renderer = _renderer(fmt)
    inputs = load_run(run, spec_path=spec_path, pricing_path=pricing_path, require_spec=True, require_pricing=True)
    figures = compute_figures(inputs, max_price_age_days=max_price_age_days)
    tables, verdict = build_tables(figures), decide(figures, payback_horizon_days=payback_horizon_days)
    if figures.summary.judge is not None:
        from distilleval.report.judge_tables import judge_accuracy_table, judge_cost_table

        tables[1:1] = [judge_accuracy_table(figures.summary)]
        tables.append(judge_cost_table(figures.summary))
    tables = _with_pareto(tables, figures, verdict)
    curve = run_curve(run)
    if curve is None:
        return renderer(figures, tables, verdict)
    if fmt == "html":
        from distilleval.report.html import render_html

        return render_html(figures, tables + curve_tables(curve), verdict, extra_charts=[curve_chart(curve)])
    return renderer(figures, tables + curve_tables(curve), verdict)
