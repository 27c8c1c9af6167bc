"""`distilleval run SPEC`: label -> validate -> train -> eval -> report in one command.

Offline (``--offline``, or automatically when a provider key is missing, with a one-line
notice) it makes no network call at all (``distilleval.pipeline.offline``). Online, each step
is the command that owns it (``label``, ``validate``, ``train``), then the library's
``evaluate`` and reports. Steps whose outputs exist and are current are skipped: an
unchanged spec, data set and pricing table reuse the earlier run.

A failed call is missing data, as in ``eval``: each model's failed calls are printed by kind,
and when a model failed more than ``gates.max_error_rate`` of its calls (default 2%) the
command exits 1 after writing the run and its reports. Re-running the same command continues
the same run directory and re-calls only the failed items.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from distilleval.commands.argument_types import latency_probe
from distilleval.commands.options import add_limit_option, add_pricing_option

if TYPE_CHECKING:
    from distilleval.costs.pricing import PricingTable
    from distilleval.spec.task_spec import TaskSpec

HELP = "label, validate, train, eval and report in one command (offline without provider keys)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval run`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--offline", action="store_true", help="no network: reference labels, local baselines, projected costs")
    add_limit_option(parser, "only N eval items (the first N in the canonical order, a hash of each item id, not file order)")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR", help="where run directories go (default ./runs)")
    add_pricing_option(parser)
    parser.add_argument("--force", action="store_true", help="redo every step even when its outputs are current")
    parser.add_argument(
        "--latency-probe", type=latency_probe, metavar="N[@K]", default=None,
        help="online: after the eval, call the first N items again per model at concurrency K (default 1), "
        "cache bypassed and paid for ('latency, unloaded'; overrides the spec's latency: block)",
    )


def run(args: argparse.Namespace) -> int:
    """Run every step, online or offline.

    Returns:
        The first failing step's status (1: the teacher failed validation); else 1 when a
        model's error rate is above ``gates.max_error_rate`` (everything is written), else 0.
    """
    import sys

    from distilleval.commands.eval import report_failed_calls, resume_hint
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.costs.spec_prices import check_spec_priced
    from distilleval.pipeline.offline import run_offline
    from distilleval.pipeline.plan import is_current, mark_current, missing_credentials, plan_run, run_directory
    from distilleval.pipeline.preflight import check_eval_inputs, check_label_inputs, check_scorer
    from distilleval.pipeline.reports import write_reports
    from distilleval.results.summary_json import read_summary
    from distilleval.spec.data import split_items
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(args.spec)
    pricing = resolve_pricing(spec, args.pricing)
    offline, reason = bool(args.offline), "--offline"
    if not offline:
        missing = missing_credentials(spec)
        if missing:
            offline, reason = True, f"no key for {', '.join(missing)}"
            print(f"distilleval run: {reason}: running offline (reference labels, local baselines, projected costs)", file=sys.stderr)
    if offline and spec.scorer.kind == "judge":
        from distilleval.errors import ConfigurationError
        from distilleval.spec.task_spec import spec_location

        raise ConfigurationError(
            f"{spec_location(spec, ('scorer', 'kind'))}: scorer.kind: judge: scoring this task needs the judge model "
            f"({spec.judge_settings().model}), which an offline run does not call ({reason}); local baselines do not apply to "
            "free text: run online, or eval against a local server"
        )
    # Everything a user can get wrong in the spec, data or pricing fails here, before any work.
    check_spec_priced(spec, pricing, training=not offline and spec.student.model == spec.training.base_model)
    inputs = check_eval_inputs(spec, limit=args.limit)
    check_scorer(spec)
    _warn_duplicate_rows(split_items(inputs.items, "train"), f"{spec.resolve(spec.data.path)} (train split)")
    if not offline:
        pool = check_label_inputs(spec)  # the label step labels data.pool, else the train split
        if spec.data.pool:
            _warn_duplicate_rows(pool.items, pool.source)
    if not offline:
        status, eval_dir = run_online(spec, pricing, args)
        if status != 0:
            return status
        _print_headline(eval_dir)
        return report_failed_calls(read_summary(eval_dir), spec.gates.max_error_rate, command="run",
                                   next_step=resume_hint(rerun_command(args)))

    plan = plan_run(spec, pricing, runs_dir=Path(args.runs_dir), offline=True, limit=args.limit, reason=reason)
    summary_path = plan.run_dir / "summary.json"
    current = not args.force and is_current(summary_path, plan.fingerprint)
    print(f"distilleval run: {spec.name} offline -> {plan.run_dir}")
    if current:
        print("label, validate, train, eval: up to date (spec, prompts, data and pricing unchanged); reusing summary.json")
    else:
        with run_directory(plan.run_dir, keep_partial=False):
            run_offline(spec, pricing, plan, limit=args.limit, items=inputs.items)
            mark_current(summary_path, plan.fingerprint)
    reports = write_reports(plan.run_dir)
    print("report    " + ", ".join(str(path) for path in reports))
    _print_headline(plan.run_dir)
    # Offline, only local baselines are measured and they make no calls that can fail; checked
    # all the same, so both modes exit by the same rule.
    return report_failed_calls(read_summary(plan.run_dir), spec.gates.max_error_rate, command="run",
                               next_step=resume_hint(rerun_command(args)))


def _warn_duplicate_rows(items, source: str) -> None:
    """One stderr line when training rows repeat an earlier row's inputs (``training.duplicate_rows``)."""
    import sys

    from distilleval.training.duplicate_rows import duplicate_items

    repeated = duplicate_items(items)
    if repeated is not None:
        print(f"distilleval run: warning: {repeated.describe(source)}", file=sys.stderr)


def rerun_command(args: argparse.Namespace) -> str:
    """The ``distilleval run`` command that continues this run: the same spec and the options
    that name its run directory (``--force`` left out, so current steps are not redone)."""
    import shlex

    words = ["distilleval", "run", args.spec]
    if args.offline:
        words.append("--offline")
    if args.limit:
        words += ["--limit", str(args.limit)]
    if args.runs_dir != "runs":
        words += ["--runs-dir", args.runs_dir]
    if args.pricing:
        words += ["--pricing", args.pricing]
    if args.latency_probe is not None:
        calls, concurrency = args.latency_probe
        words += ["--latency-probe", f"{calls}@{concurrency}"]
    return shlex.join(words)


def _invoke(command: str, argv: list[str]):
    """Parse ``argv`` with a sibling command's own parser; returns (module, namespace)."""
    import importlib

    module = importlib.import_module(f"distilleval.commands.{command}")
    parser = argparse.ArgumentParser(prog=f"distilleval {command}")
    module.add_arguments(parser)
    return module, parser.parse_args(argv)


def run_online(spec: "TaskSpec", pricing: "PricingTable", args: argparse.Namespace, *, say=print) -> tuple[int, Path]:
    """label -> validate -> train -> eval -> report, each step through the command that owns it.

    Every model call goes through the shared response cache, so re-running an unchanged spec
    pays nothing; steps whose outputs carry the current fingerprint are skipped outright.

    Returns:
        (status, eval run directory); status 1 when the teacher fails validation (nothing is
        trained on bad labels), else 0. A failure before any step wrote a file leaves no
        run directory behind.
    """
    from distilleval.pipeline.plan import plan_run, run_directory

    plan = plan_run(spec, pricing, runs_dir=Path(args.runs_dir), offline=False, limit=args.limit, reason="online")
    with run_directory(plan.run_dir, keep_partial=True):
        return _online_steps(spec, pricing, args, plan, say=say)


def _online_steps(spec: "TaskSpec", pricing: "PricingTable", args: argparse.Namespace, plan, *, say) -> tuple[int, Path]:
    import json

    from distilleval.backends.tinker.model_ids import is_tinker_model
    from distilleval.pipeline.evaluate import EvalOptions, evaluate
    from distilleval.pipeline.plan import is_current, mark_current
    from distilleval.pipeline.reports import write_reports

    run_dir = plan.run_dir
    say(f"distilleval run: {spec.name} online -> {run_dir}")
    shared = ["--pricing", str(pricing.path)]
    spec_path = str(spec.source)

    labels = run_dir / "labels.jsonl"
    if is_current(labels, plan.fingerprint) and not args.force:
        say("label     up to date")
    else:
        module, namespace = _invoke("label", [spec_path, "--out", str(labels), *shared])
        module.run(namespace)
        mark_current(labels, plan.fingerprint)

    validation = run_dir / "validate.json"
    if spec.scorer.kind == "judge":
        # Validating the teacher against gold would mean judging it twice; eval judges it, raw and corrected.
        say("validate  skipped: a judge scores this free-text task; eval reports the teacher's judged accuracy")
    else:
        module, namespace = _invoke("validate", [spec_path, "--split", "eval", "--spot-check", "3", "--out",
                                                 str(validation), *shared])
    if spec.scorer.kind != "judge" and module.run(namespace) == 1:
        say("validate  the teacher is below the spec's floor (gates.teacher_min): stopping before training on its labels")
        return 1, run_dir / "eval"

    student = spec.student.model
    student_training = None
    if student.startswith("tinker://"):
        say(f"train     skipped: the spec's student is already a checkpoint ({student})")
    elif student == spec.training.base_model and is_tinker_model(student):
        train_dir = run_dir / "train"
        manifest_path = train_dir / "manifest.json"
        if not (is_current(manifest_path, plan.fingerprint) and not args.force):
            module, namespace = _invoke("train", [spec_path, "--data", str(labels), "--out", str(train_dir), *shared])
            module.run(namespace)
            mark_current(manifest_path, plan.fingerprint)
        sampler_path = json.loads(manifest_path.read_text())["sampler_path"]
        say(f"train     student checkpoint {sampler_path}")
        # A LoRA checkpoint is billed at its base model's rate (costs.pricing reads checkpoint_base_model).
        checkpoint = spec.student.model_copy(update={
            "model": sampler_path, "checkpoint_base_model": None if spec.student.price_as else spec.training.base_model})
        spec = spec.model_copy(update={"student": checkpoint})
        student_training = f"trained in this run on the teacher's labels ({student} LoRA, checkpoint {sampler_path})"
    else:
        say(f"train     skipped: the student ({student}) is served by its provider; set it to training.base_model to fine-tune")

    eval_dir = evaluate(spec, EvalOptions(
        out=str(run_dir / "eval"), pricing=str(pricing.path), limit=args.limit or None, student_training=student_training,
        latency_probe=getattr(args, "latency_probe", None),
    ))
    reports = write_reports(eval_dir)
    say("report    " + ", ".join(str(path) for path in reports))
    return 0, eval_dir


def _print_headline(run_dir: Path) -> None:
    """The verdict line and the per-model figures, so the terminal shows the answer."""
    from distilleval.costs.cost_model import format_usd
    from distilleval.report.figures import compute_figures
    from distilleval.report.sources import load_run
    from distilleval.report.verdict import decide
    from distilleval.results.summary_json import read_summary

    summary = read_summary(run_dir)
    print()
    for name, result in summary.models.items():
        metric = result.metric
        if metric is not None and metric.value is not None:
            interval = f" [{metric.ci_low:.3f}, {metric.ci_high:.3f}]" if metric.ci_low is not None else ""
            score = f"{metric.name} {metric.value:.3f}{interval}"
        else:
            score = "not scored (not called in this run)"
        cost = format_usd(result.cost_per_request_usd) if result.cost_per_request_usd is not None else "n/a"
        print(f"  {name:18} {result.basis:9} {score:40} {cost}/request ({result.cost_basis})")
    verdict = decide(compute_figures(load_run(run_dir)))
    print(f"\nverdict: {verdict.headline} (reasons in report.md)")
    if verdict.lead:
        print(verdict.lead)
    recommendation = verdict.recommendation
    if recommendation is not None:
        print(f"recommendation: {recommendation.text}")
        for judgement in recommendation.rejected:
            print(f"  not {judgement.arm.name}: {judgement.reason}")
