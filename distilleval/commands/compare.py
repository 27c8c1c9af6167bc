"""`distilleval compare`: item-paired comparison of two runs of the same spec, model by model.

For each model in both runs, items are paired by id, over the items both runs answered: a failed
call is missing data, and the output says how many items each model lost that way. Each model
gets a two-sided p-value that it changed (McNemar's exact test for 0/1 scores, a paired
sign-flip permutation test for other scores), and the models' comparisons are decided together
by Holm's step-down procedure at ``--alpha``, so the chance that noise alone reports a change in
any model stays at most ``alpha`` however many models the runs share. Each interval of the
difference (run B - run A) is two-sided at the level its Holm step used, so an interval that
excludes zero goes with a significant change.

Judge-scored runs are compared on the judge's verdicts corrected for its measured error (the raw
paired difference over Youden's J, its interval carrying the alignment set's uncertainty), and
only when both runs had the same judge and alignment set; otherwise every model is reported as
not comparable on corrected figures (docs/judge.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distilleval.gate.paired import PairedResult
    from distilleval.results.families import HolmDecision, Scores
    from distilleval.results.summary_json import Summary

HELP = "Item-paired comparison of two runs of the same spec"


def add_arguments(parser):
    """Add the arguments of ``distilleval compare`` to ``parser``."""
    parser.add_argument("run_a", metavar="RUN_A", help="reference run (directory or summary.json), e.g. main")
    parser.add_argument("run_b", metavar="RUN_B", help="run compared with it, e.g. this commit")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="family-wise significance level over all models, Holm-corrected (default 0.05)")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="output format (default: md)")


@dataclass(frozen=True)
class ModelChange:
    """One model's run B - run A comparison, decided within the family of all compared models.

    Attributes:
        key: the model.
        paired: the paired comparison, its interval two-sided at ``1 - decision.level``.
        p_value: two-sided p-value that the model changed.
        test: how ``p_value`` was computed.
        decision: Holm's decision for this model.
    """

    key: str
    paired: PairedResult
    p_value: float
    test: str
    decision: HolmDecision

    @property
    def outcome(self) -> str:
        """"significant drop", "significant gain" or "no significant change" after the correction."""
        difference = self.paired.difference
        if self.decision.rejected and difference is not None and difference != 0:
            return "significant drop" if difference < 0 else "significant gain"
        return "no significant change"

    @property
    def interval_confidence(self) -> float:
        """Two-sided coverage of ``paired``'s interval."""
        return 1.0 - self.decision.level


def change_family(pairs: Mapping[str, tuple[Scores, Scores]], *, alpha: float) -> list[ModelChange]:
    """Test every model for a change between two runs, corrected together by Holm at ``alpha``.

    Args:
        pairs: model -> (run A scores, run B scores), paired by position; models with no paired
            items must be left out.
        alpha: the family-wise level: noise alone reports a change in some model with
            probability at most ``alpha``.

    Returns:
        One ``ModelChange`` per model, in the order of ``pairs``.
    """
    from distilleval.gate.paired import compare_paired_as_tested
    from distilleval.results.families import holm, two_sided_p_value

    tested = {key: two_sided_p_value(a, b) for key, (a, b) in pairs.items()}
    decisions = holm([p for p, _ in tested.values()], alpha)
    return [
        ModelChange(key, compare_paired_as_tested(a, b, alpha=decision.level), p, test, decision)
        for (key, (a, b)), (p, test), decision in zip(pairs.items(), tested.values(), decisions)
    ]


def correction_text(family_size: int, alpha: float) -> str:
    """One sentence naming the correction and the number of comparisons it covers."""
    if family_size == 0:
        return "No model has items scored in both runs: nothing was compared."
    if family_size == 1:
        return f"One comparison: no correction needed (significance level {alpha:g})."
    return (f"Holm's step-down correction over {family_size} comparisons (one per model): family-wise "
            f"significance level {alpha:g}; each interval is at the level its Holm step used.")


def _failed_items(summary: Summary, key: str) -> set[str]:
    from distilleval.results.item_results import failed_ids

    return failed_ids(summary, key)


def compare_runs(summary_a: Summary, summary_b: Summary, *, alpha: float) -> list[dict]:
    """One row per model present in both runs, with the paired test results (B - A).

    Each row has ``dropped_failed``: items of both runs left out because the model's call failed
    in either run. Models with no item scored in both runs get the outcome "not compared" and
    are not part of the corrected family.

    Judge-scored runs are compared on the judge's verdicts, corrected for its measured error
    (``_judged_row``); runs whose judges or alignment sets differ are not compared at all, each
    row saying why (``gate.judged.corrected_comparability``).

    Raises:
        DataError: the runs are of different specs.
    """
    from distilleval.errors import DataError
    from distilleval.gate.judged import corrected_comparability, paired_passes
    from distilleval.results.item_results import item_ids, paired_item_scores

    if summary_a.spec_name != summary_b.spec_name:
        raise DataError(f"runs are of different specs: {summary_a.spec_name!r} vs {summary_b.spec_name!r}")
    judged = summary_a.judge is not None or summary_b.judge is not None
    refused = corrected_comparability(summary_a, summary_b) if judged else None
    shared_items = set(item_ids(summary_a)) & set(item_ids(summary_b))
    keys = [key for key in summary_b.models if key in summary_a.models]
    pairs, dropped = {}, {}
    for key in keys:
        dropped[key] = len((_failed_items(summary_a, key) | _failed_items(summary_b, key)) & shared_items)
        if refused is not None:
            continue
        a: Scores
        b: Scores
        if judged:
            a, b = paired_passes(summary_a, summary_b, key)
        else:
            a, b = paired_item_scores(summary_a, key, summary_b, key)
        if len(a):
            pairs[key] = (a, b)
    changes = {change.key: change for change in change_family(pairs, alpha=alpha)}
    rows = []
    for key in keys:
        row = {"model": key, "display_name": summary_b.models[key].display_name, "dropped_failed": dropped[key]}
        change = changes.get(key)
        if change is None:
            outcome = ("not compared: no item scored in both runs" if refused is None else
                       f"not compared: the runs are not comparable on corrected figures ({refused})")
            rows.append({**row, "n_paired": 0, "a": None, "b": None, "difference": None, "ci_low": None,
                         "ci_high": None, "ci_confidence": None, "test": None, "interval": None, "p_value": None,
                         "adjusted_p": None, "lost": None, "gained": None, "outcome": outcome})
            continue
        if judged and summary_a.judge is not None and summary_b.judge is not None:  # both, or refused above
            rows.append({**row, **_judged_row(change, *pairs[key], summary_a.judge.alignment,
                                              summary_b.judge.alignment)})
            continue
        paired = change.paired
        binary = paired.p_value is not None  # compare_paired counts lost/gained items for 0/1 scores only
        rows.append({
            **row, "n_paired": paired.n_paired, "a": paired.mean_a, "b": paired.mean_b, "difference": paired.difference,
            "ci_low": paired.ci_low, "ci_high": paired.ci_high, "ci_confidence": change.interval_confidence,
            "test": change.test, "interval": paired.method, "p_value": change.p_value,
            "adjusted_p": change.decision.adjusted_p,
            "lost": paired.losses if binary else None, "gained": paired.gains if binary else None,
            "outcome": change.outcome,
        })
    return rows


def _judged_row(change: ModelChange, a: Scores, b: Scores, alignment_a, alignment_b) -> dict:
    """A judge-scored model's row: A, B and B − A corrected for the judge's measured error, the interval the
    corrected one at the level of the model's Holm step (carrying the alignment set's uncertainty too).

    The p-value is McNemar's on the verdicts: with one judge for both runs the raw difference is J times the
    true one, so it is zero exactly when the true one is. A change counts only when Holm rejects it and the
    corrected interval excludes zero, so the interval printed never contradicts the outcome.
    """
    from distilleval.gate.judged import corrected_paired

    corrected = corrected_paired(list(a), list(b), alignment_a, alignment_b, two_sided_alpha=change.decision.level)
    significant = change.decision.rejected and (corrected.ci_low > 0 or corrected.ci_high < 0)
    outcome = "no significant change"
    if significant:
        outcome = "significant drop" if corrected.ci_high < 0 else "significant gain"
    return {
        "n_paired": corrected.n_paired, "a": corrected.corrected_a, "b": corrected.corrected_b,
        "difference": corrected.corrected_difference, "ci_low": corrected.ci_low, "ci_high": corrected.ci_high,
        "ci_confidence": change.interval_confidence, "test": change.test, "interval": corrected.method,
        "p_value": change.p_value, "adjusted_p": change.decision.adjusted_p, "lost": corrected.losses,
        "gained": corrected.gains, "outcome": outcome, "figures": "corrected for the judge's measured error",
        "raw_a": corrected.raw_a, "raw_b": corrected.raw_b, "raw_difference": corrected.raw_difference,
    }


def _fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _dropped_lines(rows: list[dict]) -> list[str]:
    """How many items each model lost to failed calls (every model, so a zero is said too)."""
    lines = []
    for row in rows:
        n = row["dropped_failed"]
        items = f"{n} item{'s' if n != 1 else ''}"
        lines.append(f"- {row['model']}: {items} dropped because a call failed in run A or B; "
                     f"compared over the {row['n_paired']:,} items both runs answered")
    return lines


def _judge_lines(summary_a: Summary, summary_b: Summary, rows: list[dict]) -> list[str]:
    """What the figures of judge-scored runs are: corrected (with each model's raw pass rates), or why not compared."""
    if summary_a.judge is None and summary_b.judge is None:
        return []
    judged = [row for row in rows if row.get("figures")]
    if not judged or summary_b.judge is None:
        return ["Judge-scored runs: not compared on corrected figures; each model's row says why "
                "(raw pass rates of different judges or alignment sets do not measure the same thing).", ""]
    lines = [f"Judge-scored runs (judge {summary_b.judge.model}, the same alignment set): A, B and B − A are accuracies "
             "corrected for the judge's measured error; raw judge pass rates:"]
    lines += [f"- {row['model']}: {row['raw_a']:.4f} → {row['raw_b']:.4f} ({row['raw_difference']:+.4f})"
              for row in judged]
    return [*lines, ""]


def run(args) -> int:
    """Compare the two runs and print a table (or JSON); returns 0."""
    import json

    from distilleval.errors import DataError
    from distilleval.report.sources import summary_file
    from distilleval.results.summary_json import read_summary

    if not 0 < args.alpha < 0.5:
        raise DataError(f"--alpha must be between 0 and 0.5, got {args.alpha}")
    summary_a, summary_b = read_summary(summary_file(args.run_a)), read_summary(summary_file(args.run_b))
    rows = compare_runs(summary_a, summary_b, alpha=args.alpha)
    family_size = sum(1 for row in rows if row["p_value"] is not None)
    if args.format == "json":
        print(json.dumps({"spec_name": summary_a.spec_name, "run_a": summary_a.run_id, "run_b": summary_b.run_id,
                          "alpha": args.alpha,
                          "correction": {"method": "holm", "comparisons": family_size, "family_alpha": args.alpha},
                          "models": rows}, indent=2))
        return 0
    print(f"# {summary_a.spec_name}: {summary_b.run_id} (B) vs {summary_a.run_id} (A), paired by item id\n")
    print("| Model | A | B | B − A | CI (level) | Test | p | Holm-adjusted p | Lost / gained | Paired | "
          "Dropped (failed call) | Outcome |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        ci = "—" if row["ci_low"] is None else (
            f"{row['ci_low']:+.4f} to {row['ci_high']:+.4f} ({row['ci_confidence'] * 100:.4g}%)")
        lost_gained = "—" if row["lost"] is None else f"{row['lost']} / {row['gained']}"
        print(f"| {row['display_name'].replace('|', '/')} | {_fmt(row['a'], '.4f')} | {_fmt(row['b'], '.4f')} | "
              f"{_fmt(row['difference'], '+.4f')} | {ci} | {row['test'] or '—'} | {_fmt(row['p_value'], '.4g')} | "
              f"{_fmt(row['adjusted_p'], '.4g')} | {lost_gained} | {row['n_paired']:,} | {row['dropped_failed']:,} | "
              f"{row['outcome']} |")
    print()
    for line in _judge_lines(summary_a, summary_b, rows):
        print(line)
    print(correction_text(family_size, args.alpha))
    intervals = sorted({row["interval"] for row in rows if row["interval"]})
    if intervals:
        print(f"Intervals: {'; '.join(intervals)}.")
    print("\nA failed call is missing data, never a wrong answer:")
    for line in _dropped_lines(rows):
        print(line)
    if summary_a.spec.sha256 != summary_b.spec.sha256:
        print("\nNote: the spec file changed between the runs (prompts or settings differ).")
    return 0
