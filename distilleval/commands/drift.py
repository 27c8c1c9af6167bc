"""`distilleval drift`: has the teacher (or any hosted model) changed since an earlier run?

Re-asks the run's models a pinned set of canary eval items with exactly the earlier requests,
never through the response cache, and compares the answers item by item: the share that
changed (exit 1 unless the data show it is below ``gates.max_teacher_drift``), accuracy against
gold then and now with McNemar's test, which classes moved, and the model version the provider
named. The student is re-checked the same way, so a report can show the teacher moved while the
student did not. ``--dry-run`` prints the calls and their estimated cost and calls nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distilleval.commands.argument_types import non_negative_int, positive_int
from distilleval.commands.options import add_pricing_option

HELP = "Re-ask a run's models a pinned canary subset and flag a model whose answers changed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval drift`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML) of the earlier run")
    parser.add_argument("--against", required=True, metavar="RUN", help="the earlier run directory to compare with")
    parser.add_argument("--canaries", type=positive_int, default=200, metavar="N",
                        help="eval items to re-ask (the same N every time, chosen by a hash of their ids; default 200)")
    parser.add_argument("--models", default=None,
                        help="comma-separated roles to re-ask (default: every model role the run called)")
    parser.add_argument("--out", default=None,
                        help="the drift folder (its own run store; default runs/<spec>-drift-<UTC date>): "
                        "running the same command again continues it without paying twice")
    parser.add_argument("--dry-run", action="store_true", help="print the calls and their estimated cost; call nothing")
    parser.add_argument("--concurrency", type=positive_int, default=16)
    parser.add_argument("--max-retries", type=non_negative_int, default=4)
    add_pricing_option(parser)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _print_role(role) -> None:
    c = role.comparison
    interval = f", {1 - 2 * c.alpha:.0%} CI {_pct(c.changed_interval[0])}-{_pct(c.changed_interval[1])}" if c.changed_interval else ""
    print(f"{c.role} ({role.model}): {c.compared} canaries answered both times; changed {c.changed} "
          f"({_pct(c.changed_share)}{interval}); agreement {_pct(c.agreement)}")
    print(f"  {'PASS' if c.passed else 'FAIL'}: {c.reason}")
    if role.failed_now:
        print(f"  {role.failed_now} calls failed now (missing data, not changes)")
    if c.correctness is not None:
        k = c.correctness
        print(f"  against gold ({k.items} items): accuracy {k.accuracy_before:.3f} -> {k.accuracy_after:.3f} "
              f"(change {k.accuracy_after - k.accuracy_before:+.3f}, {1 - c.alpha:.0%} CI {k.change_interval[0]:+.3f} to "
              f"{k.change_interval[1]:+.3f}); right only then {k.right_before_only}, right only now {k.right_after_only}; "
              f"McNemar exact p={k.mcnemar_p:.4g}")
    moved = [row for row in c.per_class if row["changed"]]
    if moved:
        shown = "; ".join(f"{row['label']} {row['changed']}/{row['items']} -> "
                          + ", ".join(f"{new} {count}" for new, count in row["into"].items()) for row in moved[:8])
        print(f"  classes that changed: {shown}")
    if role.version_note:
        print(f"  note: {role.version_note}")


def run(args: argparse.Namespace) -> int:
    """Run the drift check; returns 1 when a re-asked model may have changed more than the threshold, else 0."""
    import datetime as dt
    import json

    from distilleval.backends.request_checks import check_spec_settings
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.files import write_text_atomic
    from distilleval.pipeline.drift import DRIFT_FILE, call_canaries, compare_drift, drift_json, plan_drift
    from distilleval.run.store import RunStore
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(args.spec)
    pricing = resolve_pricing(spec, args.pricing)
    roles = [name.strip() for name in args.models.split(",") if name.strip()] if args.models else None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
    out = Path(args.out) if args.out else Path("runs") / f"{spec.name}-drift-{stamp}"
    plan = plan_drift(spec, Path(args.against), out=out, canaries=args.canaries, pricing=pricing, roles=roles)
    check_spec_settings(spec, tuple(plan.roles))
    if plan.identity_note:
        print(f"note: {plan.identity_note}")
    print(f"drift: {len(plan.canaries)} canaries x {', '.join(plan.roles)} against {plan.against}; "
          f"{len(plan.calls)} calls to make (cache bypassed), estimated ${plan.estimated_cost_usd:.4f} "
          f"(tokens the earlier run measured on the same items, {pricing.label}) -> {out}")
    if args.dry_run:
        return 0
    call_canaries(plan, pricing, concurrency=args.concurrency, max_retries=args.max_retries)
    with RunStore(out) as store:
        spent = sum(result.cost_usd for result in store.results())
    roles_drift = compare_drift(plan)
    for role in roles_drift:
        _print_role(role)
    report = drift_json(plan, roles_drift, pricing_label=pricing.label, spent_usd=spent)
    write_text_atomic(out / DRIFT_FILE, json.dumps(report, indent=2) + "\n")
    print(f"spent ${spent:.4f} in all in {out} -> {out / DRIFT_FILE}")
    return 0 if report["passed"] else 1
