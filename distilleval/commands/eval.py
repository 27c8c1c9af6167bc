"""`distilleval eval SPEC`: run the spec's models over the eval split, score them, write a run.

The run directory (``runs/<spec>-<UTC time>/``) gets ``records.sqlite`` (one row per item x
model, committed as each call finishes), ``spec.resolved.yaml``, a copy of the pricing table
and ``summary.json``. ``--resume RUN`` continues a run and calls only what is missing; even
without it, re-running the same command replays finished calls from the response cache at $0.

A failed call is missing data, never a wrong answer: each model's failed calls are printed by
kind, and when a model failed more than ``gates.max_error_rate`` of its calls (default 2%) the
command exits 1 after writing the whole run (which stays reportable and resumable).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses

from distilleval.commands.argument_types import latency_probe, non_negative_int, positive_float, positive_int
from distilleval.commands.options import add_limit_option, add_pricing_option

HELP = "Run the spec's models over the eval split, score them, write a run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval eval`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--resume", metavar="RUN", help="continue this run (a run directory, or its id under --runs-dir)")
    add_limit_option(parser, "only N eval items (the first N in the canonical order, a hash of each item id, not file order)")
    parser.add_argument(
        "--models", default=None, metavar="NAMES",
        help="comma-separated roles to run: teacher, student and baseline names (default: all)",
    )
    parser.add_argument("--concurrency", type=positive_int, default=16, metavar="N", help="calls in flight (default 16)")
    parser.add_argument("--rpm", type=positive_float, metavar="N", help="client-side requests per minute, per model")
    parser.add_argument("--tpm", type=positive_float, metavar="N", help="client-side tokens per minute, per model")
    parser.add_argument("--max-retries", type=non_negative_int, default=4, metavar="N", help="retries of a failed call (default 4)")
    parser.add_argument("--give-up-after", dest="give_up_after_s", type=positive_float, default=30.0, metavar="S",
                        help="stop the run when a model that answered before fails every attempt (connection errors, "
                             "timeouts) for S seconds: it went away mid-run (default 30)")
    parser.add_argument(
        "--latency-probe", type=latency_probe, metavar="N[@K]", default=None,
        help="after the run, call the first N items again per model at concurrency K (default 1), cache bypassed "
        "and paid for, and report it as 'latency, unloaded' (overrides the spec's latency: block; 0 turns it off)",
    )
    parser.add_argument(
        "--batch", action="store_true",
        help="send the teacher's and student's calls through their providers' batch APIs (OpenAI, Anthropic) at the "
        "batch price; re-running the command resumes the run whose batches were not collected",
    )
    parser.add_argument(
        "--batch-poll", type=positive_float, default=10.0, metavar="S",
        help="seconds before the first batch status check (the wait grows to 5 min; default 10)",
    )
    parser.add_argument(
        "--progress-every", type=positive_float, default=None, metavar="S",
        help="where stderr is not a terminal (a pipe, CI=true): one progress line every S seconds "
        "(default $DISTILLEVAL_PROGRESS_EVERY, else 10); a terminal shows a bar",
    )
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    cache.add_argument("--refresh", action="store_true", help="call every model again and overwrite cached answers")
    add_pricing_option(parser)
    parser.add_argument("--runs-dir", default="runs", metavar="DIR", help="where run directories go (default ./runs)")
    parser.add_argument(
        "--out", metavar="DIR",
        help="this exact run directory (continued when it already holds a run of the same spec)",
    )
    parser.add_argument(
        "--cache", metavar="FILE", default=None,
        help="response cache file (default $DISTILLEVAL_CACHE or ~/.cache/distilleval/responses.sqlite)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the eval (``distilleval.pipeline.evaluate``); returns 1 when a model's error rate is
    above ``gates.max_error_rate`` (the run directory is still complete and reportable), else 0."""
    from distilleval.pipeline.evaluate import EvalOptions, evaluate
    from distilleval.results.summary_json import read_summary
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(args.spec)
    # student_training is not a flag: only `run`, which trains the student, knows it.
    options = EvalOptions(**{
        field.name: getattr(args, field.name) for field in dataclasses.fields(EvalOptions) if field.name != "student_training"
    })
    with _progress_lines(args.progress_every) as beat, _how_to_go_on_without_keys(spec, args.spec, args.models):
        run_dir = evaluate(spec, options)
        if beat is not None:
            beat.set_phase("reading the summary")
        summary = read_summary(run_dir)
    for line in judge_lines(summary):
        print(line)
    return report_failed_calls(summary, spec.gates.max_error_rate, command="eval",
                               next_step=resume_hint(f"distilleval eval {args.spec} --resume {run_dir}"))


def judge_lines(summary) -> list[str]:
    """A judge-scored run's judge cost on its own line, the eval's total spend with it, and whether its
    verdicts count (the alignment requirements, the judge's error rate)."""
    from distilleval.costs.cost_model import format_usd

    judge = summary.judge
    if judge is None:
        return []
    models_spent = sum(result.spent_usd for result in summary.models.values())
    lines = [
        f"  judge {judge.model}: {judge.calls} calls, {judge.input_tokens_total:,} input + "
        f"{judge.output_tokens_total:,} output tokens, {format_usd(judge.cost_usd)} at the table "
        f"(spent {format_usd(judge.spent_usd)})",
        f"  eval spent {format_usd(models_spent + judge.spent_usd)}: models {format_usd(models_spent)} + judge "
        f"{format_usd(judge.spent_usd)}",
    ]
    def shown(metric) -> str:
        return "undefined" if metric.value is None else f"{metric.value:.3f} [{metric.ci_low:.3f}, {metric.ci_high:.3f}]"

    for name, figures in judge.figures.items():
        lines.append(f"  {name}: judge pass rate {shown(figures.raw)}, corrected accuracy {shown(figures.corrected)} "
                     f"({figures.n} judged answers)")
    if not judge.trusted:
        lines.append("  judge not trusted, its verdicts do not count: " + "; ".join(judge.untrusted_reasons))
    return lines


def resume_hint(command: str) -> str:
    """What to do after too many failed calls, when ``command`` re-calls only the failed items."""
    return f"fix the cause, then `{command}` re-calls only the failed items"


def report_failed_calls(summary, limit: float, *, command: str, next_step: str,
                        limit_source: str = "gates.max_error_rate") -> int:
    """Print each measured model's failed calls by kind (``error_lines``); when a model's error
    rate is above ``limit``, one more line saying the run is written but not judged, and
    ``next_step`` (``resume_hint``).

    Shared by ``eval``, ``run`` and ``score``, so they say the same thing and exit alike.

    Args:
        summary: the written run's summary.
        limit: the highest error rate whose figures are judged.
        command: the command's name, for the line.
        next_step: what to do about it.
        limit_source: where ``limit`` came from (the spec's gate, or a flag).

    Returns:
        1 when a model's error rate is above ``limit``, else 0.
    """
    lines, too_many = error_lines(summary, limit)
    for line in lines:
        print(line)
    if not too_many:
        return 0
    print(f"distilleval {command}: {', '.join(too_many)} failed more than {limit:.1%} of calls "
          f"({limit_source}): the run is written but not judged; {next_step}")
    return 1


def error_lines(summary, limit: float) -> tuple[list[str], list[str]]:
    """One line per measured model with failed calls (counts by kind), and the models whose
    error rate is above ``limit``."""
    lines, too_many = [], []
    for key, result in summary.models.items():
        if result.basis != "measured" or not result.failed_calls:
            continue
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(result.errors.items(), key=lambda kv: (-kv[1], kv[0])))
        over = result.error_rate > limit
        if over:
            too_many.append(key)
        lines.append(f"  {key}: {result.failed_calls} of {result.n} calls failed ({kinds}), error rate "
                     f"{result.error_rate:.1%} {'>' if over else '<='} limit {limit:.1%}; its metric is over the "
                     f"{result.n_scored} answered items")
        for reason, count in sorted(result.error_reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {key} batch: {reason} ({count} {'call' if count == 1 else 'calls'})")
    judge = getattr(summary, "judge", None)
    if judge is not None and judge.failed_calls:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(judge.errors.items(), key=lambda kv: (-kv[1], kv[0])))
        over = judge.error_rate > limit
        if over:
            too_many.append("judge")
        lines.append(f"  judge: {judge.failed_calls} of {judge.calls} calls gave no verdict ({kinds}), error rate "
                     f"{judge.error_rate:.1%} {'>' if over else '<='} limit {limit:.1%}; those answers are missing "
                     "data, never fails")
    return lines, too_many


def _progress_lines(every_s: float | None):
    """A ``Heartbeat`` on stderr where no bar can be drawn (a pipe, ``CI=true``); else nothing."""
    import contextlib

    from distilleval.run.heartbeat import Heartbeat, interval_from_env, wants_plain_lines

    if not wants_plain_lines():
        return contextlib.nullcontext()
    return Heartbeat("distilleval eval", interval_s=every_s or interval_from_env())


@contextlib.contextmanager
def _how_to_go_on_without_keys(spec, spec_arg: str, models: str | None):
    """A missing key (``MissingKeyError``) gets the ways on without it added: a no-cost ``run --offline``,
    or ``--models`` naming the models that can be called now (``pipeline.plan.missing_credentials``)."""
    from distilleval.errors import MissingKeyError

    try:
        yield
    except MissingKeyError as err:
        hint = missing_key_hint(spec, spec_arg, models)
        if hint is None:
            raise
        raise MissingKeyError(f"{err}; {hint}") from None


def missing_key_hint(spec, spec_arg: str, models: str | None = None) -> str | None:
    """How to go on when models' keys are missing: ``distilleval run SPEC --offline`` for a no-cost run,
    or ``--models`` with the models whose keys are set (and the local baselines); None when no model the
    run calls (``models``, the ``--models`` value, else all) lacks its key."""
    import shlex

    from distilleval.pipeline.plan import missing_credentials

    chosen = None if models is None else {name.strip() for name in models.split(",")} | {"judge"}
    missing = [entry for entry in missing_credentials(spec) if chosen is None or entry.split(" (", 1)[0] in chosen]
    if not missing:
        return None
    lacking = {entry.split(" (", 1)[0] for entry in missing}
    ready = [role for role in spec.models() if role not in lacking] + [b.display_name for b in spec.baselines]
    offline = (f"`distilleval run {shlex.quote(spec_arg)} --offline` for a no-cost run "
               "(reference labels, local baselines, projected costs)")
    if not ready:
        return f"no key for {', '.join(missing)}: {offline}"
    return (f"no key for {', '.join(missing)}: {offline}, or add `--models {shlex.quote(','.join(ready))}` "
            "to call only the models whose keys are set")
