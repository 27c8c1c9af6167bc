"""The report's judge tables: judge-scored accuracy raw and corrected, and what the judge cost.

Each judge-scored figure is shown twice, the judge's raw pass rate and the accuracy corrected for
its measured sensitivity and specificity, each with its interval; the judge's tokens and cost have
their own row, and the eval's total spend adds them to the models'.
"""

from __future__ import annotations

from distilleval.report.tables import DASH, Cell, Table, count, usd
from distilleval.results.summary_json import MetricValue, Summary


def _interval(metric: MetricValue | None) -> Cell:
    if metric is None or metric.value is None:
        return Cell(DASH)
    if metric.ci_low is None or metric.ci_high is None:
        return Cell(f"{metric.value:.1%}", metric.value)
    return Cell(f"{metric.value:.1%} [{metric.ci_low:.1%}, {metric.ci_high:.1%}]", metric.value)


def judge_accuracy_table(summary: Summary) -> Table:
    """Per model: judge pass rate and corrected accuracy; the corrected comparison and pairwise in notes."""
    judge = summary.judge
    table = Table("judge_accuracy", "Judge-scored accuracy: raw and corrected",
                  ["Model", "Judged answers", "Judge pass rate (95% CI)", "Corrected accuracy (95% CI)"])
    if judge is None:
        return table
    for name, figures in judge.figures.items():
        table.rows.append([Cell(name, name), count(figures.n), _interval(figures.raw), _interval(figures.corrected)])
    alignment = judge.alignment
    if alignment is not None:
        kappa = "undefined" if alignment.kappa is None else f"{alignment.kappa:.2f}"
        table.notes.append(
            f"Judge {judge.model} measured on {alignment.rows} alignment rows: sensitivity "
            f"{_interval(alignment.sensitivity).text}, specificity {_interval(alignment.specificity).text}, "
            f"agreement {_interval(alignment.agreement).text}, kappa {kappa}. Corrected accuracy: Rogan-Gladen; "
            "its interval carries the eval sample's and the alignment set's uncertainty.")
    comparison = judge.comparison
    if comparison is not None:
        shown = "undefined" if comparison.corrected_difference is None else f"{comparison.corrected_difference:+.1%}"
        decision = ""
        if comparison.non_inferior is not None:
            decision = (f"; non-inferior at margin {comparison.margin:.1%}: "
                        f"{'yes' if comparison.non_inferior else 'not shown'} (lower bound {comparison.lower_bound:+.1%})")
        table.notes.append(f"Student - teacher, corrected: {shown} [{comparison.ci_low:+.1%}, {comparison.ci_high:+.1%}] "
                           f"(raw {comparison.raw_difference:+.1%}, {comparison.n_paired} paired items){decision}.")
    pairwise = judge.pairwise
    if pairwise is not None and pairwise.n:
        table.notes.append(
            f"Side by side (both orders, {pairwise.n} items): the student wins {pairwise.wins}, ties {pairwise.ties}, "
            f"loses {pairwise.losses}; net win rate {_interval(pairwise.net_win_rate).text}; position bias "
            f"(first-shown minus second-shown) {_interval(pairwise.position_bias).text}.")
    if not judge.trusted:
        table.notes.append("Judge not trusted, its verdicts do not count: " + "; ".join(judge.untrusted_reasons) + ".")
    return table


def judge_cost_table(summary: Summary) -> Table:
    """The judge's calls, tokens and cost on their own row, and the eval's total spend with it."""
    judge = summary.judge
    table = Table("judge_cost", "Judge cost", ["Item", "Calls", "Input tokens", "Output tokens", "Cost at the table",
                                               "Spent in this run"])
    if judge is None:
        return table
    table.rows.append([Cell(f"judge {judge.model}", judge.model), count(judge.calls), count(judge.input_tokens_total),
                       count(judge.output_tokens_total), usd(judge.cost_usd), usd(judge.spent_usd)])
    models_spent = sum(result.spent_usd for result in summary.models.values())
    table.rows.append([Cell("eval total (models + judge)", "total"), Cell(DASH), Cell(DASH), Cell(DASH), Cell(DASH),
                       usd(models_spent + judge.spent_usd)])
    table.notes.append(f"{judge.failed_calls} judge calls gave no verdict ({judge.error_rate:.1%}): those answers are "
                       "missing data, never fails.")
    return table
