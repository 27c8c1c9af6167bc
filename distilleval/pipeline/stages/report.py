"""``report``: a run rendered as markdown, html, csv, json, marp slides or latex (``distilleval report``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReportResult:
    """A rendered report.

    Attributes:
        run: the run directory or ``summary.json`` rendered.
        format: ``md``, ``html``, ``csv``, ``json``, ``marp`` or ``latex``.
        text: the report.
    """

    run: str
    format: str
    text: str


def render_report(
    run: str | Path,
    *,
    format: str = "md",
    spec: str | Path | None = None,
    pricing: str | Path | None = None,
    payback_days: float = 90.0,
    max_price_age_days: int = 180,
) -> ReportResult:
    """Render the run's report, its verdict and recommendation included.

    Args:
        run: run directory or ``summary.json``.
        format: ``md``, ``html``, ``csv``, ``json``, ``marp`` or ``latex``.
        spec: spec YAML to use instead of the one the run names.
        pricing: pricing table to use instead of the one the run names.
        payback_days: the verdict needs the one-time cost paid back within this many days at the largest volume.
        max_price_age_days: flag prices read longer than this before the run priced them.

    Raises:
        DataError: a bad run, spec or pricing table, or a payback horizon that is not positive (one line).
    """
    from distilleval.errors import DataError
    from distilleval.report.render import render_run

    if payback_days <= 0:
        raise DataError(f"--payback-days must be positive, got {payback_days:g}")
    text = render_run(run, format, spec_path=spec, pricing_path=pricing, payback_horizon_days=payback_days,
                      max_price_age_days=max_price_age_days)
    return ReportResult(run=str(run), format=format, text=text)
