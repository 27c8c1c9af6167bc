"""``gate``: a run checked against its spec's gates, and item by item against a baseline run (``distilleval gate``).

Skipped checks do not fail; a gate that judged nothing (every check it asked for skipped) is never
a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distilleval.gate.checks import Check


@dataclass(frozen=True)
class GateResult:
    """The gate's checks and its outcome.

    Attributes:
        spec: the spec's name; run_id: the run checked.
        checks: every check with its status (``pass``, ``fail``, ``skip``) and numbers.
        notes: problems found loading the run (a spec or pricing table read from elsewhere).
        failed, skipped: how many checks failed and were skipped.
        judged: some check the spec asked for was not skipped.
        passed: judged, and no check failed.
    """

    spec: str
    run_id: str
    checks: tuple[Check, ...]
    notes: tuple[str, ...]
    failed: int
    skipped: int
    judged: bool
    passed: bool


def check_gates(run: str | Path, *, baseline: str | Path | None = None, spec: str | Path | None = None) -> GateResult:
    """Check the run against its spec's gates (and ``baseline``, an earlier run of the same spec).

    Args:
        run: run directory or ``summary.json``.
        baseline: an earlier run of the same spec: fail only on a significant paired drop.
        spec: spec YAML whose gates apply (default: the one the run names).

    Raises:
        DistillevalError: a missing or damaged summary, a baseline of another spec, an invalid spec, or
            a spec that sets no gate when no ``baseline`` is given (one line).
    """
    from distilleval.errors import DistillevalError
    from distilleval.gate.checks import CONFIGURABLE_GATES, configured_gates, nothing_judged, run_checks
    from distilleval.report.sources import load_run, summary_file
    from distilleval.results.summary_json import read_summary

    inputs = load_run(run, spec_path=spec, require_spec=True)
    summary, task = inputs.summary, inputs.spec
    if task is None:  # require_spec raises first; kept for type checkers
        raise DistillevalError(f"{run}: the run's spec cannot be loaded")
    if not configured_gates(task.gates) and not baseline:
        raise DistillevalError(
            f"{task.source}: nothing to check: the spec's gates set no threshold "
            f"({', '.join(CONFIGURABLE_GATES)}, max_error_rate) and no --baseline run was given"
        )
    earlier = read_summary(summary_file(baseline)) if baseline else None
    checks = tuple(run_checks(summary, task.gates, baseline=earlier))
    failed = sum(c.status == "fail" for c in checks)
    judged = bool(failed) or not nothing_judged(list(checks))
    return GateResult(spec=summary.spec_name, run_id=summary.run_id, checks=checks, notes=tuple(inputs.problems),
                      failed=failed, skipped=sum(c.status == "skip" for c in checks), judged=judged,
                      passed=judged and not failed)
