"""`distilleval gate`: check a run against its spec's gates (and a baseline run) for CI.

Exit 0 when every check passes (skipped checks do not fail), 1 when any fails, 2 on bad input
(missing or corrupted summary, a baseline from another spec, an invalid spec) and when the gate
has nothing to judge: the spec sets no gate and no ``--baseline`` is given, or every check it
asked for was skipped (a model the run did not measure). Nothing judged is never a PASS.
"""

from __future__ import annotations

HELP = "Check a run against the spec's gates (and a baseline run) for CI"


def add_arguments(parser):
    """Add the arguments of ``distilleval gate`` to ``parser``."""
    parser.add_argument("run", metavar="RUN", help="run directory or summary.json")
    parser.add_argument("--baseline", metavar="RUN_OR_SUMMARY",
                        help="earlier run of the same spec; fail only on a significant paired drop")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML, one test case per check")
    parser.add_argument("--spec", metavar="SPEC", help="spec whose gates apply (default: the one the run names)")


def run(args) -> int:
    """Check the run against its gates; returns 1 when a check fails, else 0."""
    import os
    import sys
    from pathlib import Path

    from distilleval.errors import DistillevalError
    from distilleval.gate.checks import CONFIGURABLE_GATES, configured_gates, nothing_judged, run_checks
    from distilleval.gate.ci_output import check_line, github_annotation, step_summary_markdown, write_junit
    from distilleval.report.sources import load_run, summary_file
    from distilleval.results.summary_json import read_summary

    inputs = load_run(args.run, spec_path=args.spec, require_spec=True)
    summary, spec = inputs.summary, inputs.spec
    assert spec is not None  # require_spec=True
    if not configured_gates(spec.gates) and not args.baseline:
        raise DistillevalError(
            f"{spec.source}: nothing to check: the spec's gates set no threshold "
            f"({', '.join(CONFIGURABLE_GATES)}, max_error_rate) and no --baseline run was given"
        )
    baseline = None
    if args.baseline:
        baseline = read_summary(summary_file(args.baseline))
    checks = run_checks(summary, spec.gates, baseline=baseline)

    for problem in inputs.problems:
        print(f"note: {problem}")
    for check in checks:
        print(check_line(check))
    failed = [c for c in checks if c.status == "fail"]
    skipped = sum(c.status == "skip" for c in checks)
    if not failed and nothing_judged(checks):
        sys.stdout.flush()
        raise DistillevalError(
            f"run {summary.run_id}: nothing judged: every check the spec asks for was skipped (reasons above); "
            "gate what the run measured (gates.baseline_min for baselines, --baseline RUN) or run the models it skips"
        )
    outcome = "FAIL" if failed else "PASS"
    print(f"gate {outcome}: {summary.spec_name} run {summary.run_id}: {len(checks)} checks, "
          f"{len(failed)} failed, {skipped} skipped")

    if args.junit:
        write_junit(checks, Path(args.junit), suite_name=summary.spec_name)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(step_summary_markdown(checks, title=f"{summary.spec_name} run {summary.run_id}"))
        for check in failed:
            print(github_annotation(check))
    sys.stdout.flush()
    return 1 if failed else 0
