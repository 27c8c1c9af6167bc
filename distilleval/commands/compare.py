"""`distilleval compare`: item-paired comparison of two runs of the same spec, model by model.

For each model in both runs, items are paired by id. 0/1 scores: McNemar's exact test
(two-sided); every metric: a paired bootstrap interval of the difference (run B - run A).
"""

from __future__ import annotations

HELP = "Item-paired comparison of two runs of the same spec"


def add_arguments(parser):
    """Add the arguments of ``distilleval compare`` to ``parser``."""
    parser.add_argument("run_a", metavar="RUN_A", help="reference run (directory or summary.json), e.g. main")
    parser.add_argument("run_b", metavar="RUN_B", help="run compared with it, e.g. this commit")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="output format (default: md)")


def compare_runs(summary_a, summary_b, *, alpha: float) -> list[dict]:
    """One row per model present in both runs, with the paired test results (B - A).

    Raises:
        DataError: the runs are of different specs.
    """
    from distilleval.errors import DataError
    from distilleval.gate.checks import item_scores
    from distilleval.gate.paired import compare_paired, is_significant_drop, paired_scores

    if summary_a.spec_name != summary_b.spec_name:
        raise DataError(f"runs are of different specs: {summary_a.spec_name!r} vs {summary_b.spec_name!r}")
    rows = []
    for key, result in summary_b.models.items():
        if key not in summary_a.models:
            continue
        a, b = paired_scores(item_scores(summary_a, key), item_scores(summary_b, key))
        paired = compare_paired(a, b, alpha=alpha)
        significant_drop = is_significant_drop(paired, alpha=alpha)
        significant_gain = (paired.p_value is not None and paired.p_value < alpha and paired.gains > paired.losses) or (
            paired.p_value is None and paired.ci_low is not None and paired.ci_low > 0)
        rows.append({
            "model": key, "display_name": result.display_name, "n_paired": paired.n_paired,
            "a": paired.mean_a, "b": paired.mean_b, "difference": paired.difference,
            "ci_low": paired.ci_low, "ci_high": paired.ci_high, "test": paired.method, "p_value": paired.p_value,
            "lost": paired.losses, "gained": paired.gains,
            "outcome": "significant drop" if significant_drop else "significant gain" if significant_gain else "no significant change",
        })
    return rows


def _fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


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
    if args.format == "json":
        print(json.dumps({"spec_name": summary_a.spec_name, "run_a": summary_a.run_id, "run_b": summary_b.run_id,
                          "alpha": args.alpha, "models": rows}, indent=2))
        return 0
    print(f"# {summary_a.spec_name}: {summary_b.run_id} (B) vs {summary_a.run_id} (A), paired by item id\n")
    print(f"| Model | A | B | B − A | {1 - args.alpha:.0%} CI | Test | p | Lost / gained | Paired | Outcome |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for row in rows:
        ci = "—" if row["ci_low"] is None else f"{row['ci_low']:+.4f} to {row['ci_high']:+.4f}"
        lost_gained = f"{row['lost']} / {row['gained']}" if row["p_value"] is not None else "—"
        print(f"| {row['display_name'].replace('|', '/')} | {_fmt(row['a'], '.4f')} | {_fmt(row['b'], '.4f')} | "
              f"{_fmt(row['difference'], '+.4f')} | {ci} | {row['test']} | {_fmt(row['p_value'], '.4g')} | "
              f"{lost_gained} | {row['n_paired']:,} | {row['outcome']} |")
    if summary_a.spec.sha256 != summary_b.spec.sha256:
        print("\nNote: the spec file changed between the runs (prompts or settings differ).")
    return 0
