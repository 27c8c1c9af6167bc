"""`distilleval gate`: check a run against its spec's gates (and a baseline run) for CI.

Exit 0 when every check passes (skipped checks do not fail), 1 when any fails, 2 on bad input
(missing or corrupted summary, a baseline from another spec, an invalid spec) and when the gate
has nothing to judge: the spec sets no gate and no ``--baseline`` is given, or every check it
asked for was skipped (a model the run did not measure). Nothing judged is never a PASS.
"""

from __future__ import annotations

import argparse

HELP = "Check a run against the spec's gates (and a baseline run) for CI"


def add_arguments(parser):
    """Add the arguments of ``distilleval gate`` to ``parser``."""
    parser.add_argument("run", metavar="RUN", help="run directory or summary.json")
    parser.add_argument("--baseline", metavar="RUN_OR_SUMMARY",
                        help="earlier run of the same spec; fail only on a significant paired drop")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML, one test case per check")
    parser.add_argument("--spec", metavar="SPEC", help="spec whose gates apply (default: the one the run names)")


def run(args: argparse.Namespace) -> int:
    """Check the run against its gates (``pipeline.stages.gate``); returns 1 when a check fails, else 0."""
    import os
    import sys
    from pathlib import Path

    from distilleval.errors import DistillevalError
    from distilleval.gate.ci_output import check_line, github_annotation, step_summary_markdown, write_junit
    from distilleval.pipeline.stages.gate import check_gates

    result = check_gates(args.run, baseline=args.baseline, spec=args.spec)
    for problem in result.notes:
        print(f"note: {problem}")
    for check in result.checks:
        print(check_line(check))
    if not result.judged:
        sys.stdout.flush()
        raise DistillevalError(
            f"run {result.run_id}: nothing judged: every check the spec asks for was skipped (reasons above); "
            "gate what the run measured (gates.baseline_min for baselines, --baseline RUN) or run the models it skips"
        )
    outcome = "PASS" if result.passed else "FAIL"
    print(f"gate {outcome}: {result.spec} run {result.run_id}: {len(result.checks)} checks, "
          f"{result.failed} failed, {result.skipped} skipped")

    if args.junit:
        write_junit(result.checks, Path(args.junit), suite_name=result.spec)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(step_summary_markdown(result.checks, title=f"{result.spec} run {result.run_id}"))
        for check in result.checks:
            if check.status == "fail":
                print(github_annotation(check))
    sys.stdout.flush()
    return 0 if result.passed else 1
