"""`distilleval run`: label -> validate -> train -> eval -> report, skipping what is current.

Offline (``--offline``, or no provider key configured) nothing touches the network: the gold
labels stand in for the teacher's labels ("reference labels"), local baselines are trained and
evaluated for real, and the teacher's and student's costs are projected from token counts
measured on the spec's real prompts. Online, each step calls the command that owns it.

A run directory is named by a fingerprint of everything that determines its result (spec,
prompts, data, pricing table, item limit, mode), so re-running an unchanged spec reuses it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from distilleval import __version__
from distilleval.data import Item, load_items, split_items
from distilleval.files import file_sha256, write_text_atomic
from distilleval.pricing import PricingTable
from distilleval.spec import TaskSpec

REPORT_FORMATS = ("md", "html")

# LiteLLM's provider prefix -> the environment variable its SDK reads the key from.
PROVIDER_KEY_VARIABLES = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "vertex_ai": ("GOOGLE_APPLICATION_CREDENTIALS",),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY",),
}


@dataclass(frozen=True)
class RunPlan:
    """Where a run goes and whether it is already current."""

    run_dir: Path
    fingerprint: str
    offline: bool
    reason: str


def missing_credentials(spec: TaskSpec) -> list[str]:
    """The teacher/student roles whose API key is not configured, as ``role (VARIABLE)``.

    A model on a custom ``api_base`` without ``api_key_env`` (a local server) needs no key.
    """
    missing = []
    for role, model in spec.models().items():
        if model.model.startswith("tinker://"):
            variables: tuple[str, ...] = ("TINKER_API_KEY",)
        elif model.api_key_env:
            variables = (model.api_key_env,)
        elif model.api_base:
            continue
        else:
            provider = model.model.split("/", 1)[0] if "/" in model.model else "openai"
            variables = PROVIDER_KEY_VARIABLES.get(provider, (f"{provider.upper()}_API_KEY",))
        if not any(os.environ.get(name) for name in variables):
            missing.append(f"{role} ({' or '.join(variables)})")
    return missing


def run_fingerprint(spec: TaskSpec, pricing: PricingTable, *, offline: bool, limit: int | None) -> str:
    """A hash of everything that determines a run's result."""
    parts = [
        __version__,
        "offline" if offline else "online",
        str(limit),
        spec.source_sha256,
        spec.teacher.prompt_text,
        spec.student.prompt_text,
        file_sha256(spec.resolve(spec.data.path)),
        pricing.sha256,
    ]
    if spec.scorer.kind == "sql_execution":
        parts.append(file_sha256(spec.resolve(spec.scorer.database)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def plan_run(spec: TaskSpec, pricing: PricingTable, *, runs_dir: Path, offline: bool, limit: int | None, reason: str) -> RunPlan:
    """Name the run directory after the fingerprint."""
    fingerprint = run_fingerprint(spec, pricing, offline=offline, limit=limit)
    mode = "offline" if offline else "online"
    return RunPlan(runs_dir / f"{spec.name}-{mode}-{fingerprint[:12]}", fingerprint, offline, reason)


def eval_items(spec: TaskSpec, items: list[Item], limit: int | None) -> list[Item]:
    """The eval split, cut to ``limit`` items."""
    chosen = split_items(items, "eval")
    return chosen[:limit] if limit else chosen


def baseline_runs(
    spec: TaskSpec,
    train: list[Item],
    evaluate: list[Item],
    pricing: PricingTable,
    *,
    baselines: list | None = None,
    labels: list[str] | None = None,
    say=print,
) -> list:
    """Train spec baselines (default: all) on ``train``, predict ``evaluate``; one ``ModelRun`` each.

    Args:
        labels: one training label per item of ``train`` (e.g. the teacher's); default: gold.
    """
    from distilleval.baselines import train_baseline
    from distilleval.summarize import ModelOutput, ModelRun

    runs = []
    for baseline in spec.baselines if baselines is None else baselines:
        trained = train_baseline(baseline, train, labels)
        price = pricing.price_for(baseline.price_as)
        predictions = trained.predict_items(evaluate, cpu_usd_per_hour=price.cpu_usd_per_hour or 0.0)
        say(f"  {baseline.display_name}: trained on {len(train)} items in {trained.train_seconds:.2f} s, predicted {len(evaluate)}")
        outputs = [ModelOutput(**vars(p)) for p in predictions]
        runs.append(
            ModelRun(
                name=baseline.display_name,
                role="baseline",
                model=baseline.kind,
                outputs=outputs,
                display_name=baseline.display_name,
                cost_per_request_usd=sum(o.cost_usd for o in outputs) / len(outputs) if outputs else None,
                cost_basis="measured",
                notes=[f"trained in-process on {len(train)} items in {trained.train_seconds:.2f} s; cost = CPU time x {price.display_name} rate"],
            )
        )
    return runs


def run_offline(spec: TaskSpec, pricing: PricingTable, plan: RunPlan, *, limit: int | None, say=print) -> Path:
    """The offline pipeline; returns the path of the summary it wrote."""
    from distilleval.projection import projected_model_result
    from distilleval.summarize import build_summary
    from distilleval.summary import write_summary

    items = load_items(spec)
    train, evaluate = split_items(items, "train"), eval_items(spec, items, limit)
    labelled = [item for item in train if item.gold is not None]
    say(f"label     reference labels: {len(labelled)} gold answers of the train split stand in for the teacher's labels")
    say("validate  skipped: reference labels are the gold itself")
    say(f"train     skipped: the student ({spec.student.model}) is not trained offline; its cost is projected")
    say(f"eval      {len(evaluate)} eval items")
    runs = baseline_runs(spec, labelled, evaluate, pricing, say=say) if spec.baselines else []
    if not spec.baselines:
        why = f"output kind {spec.output.kind!r}" if spec.output.kind != "label" else "no baselines declared, or image inputs"
        say(f"  no local baselines for this task ({why}); nothing is scored offline")
    projected = {role: projected_model_result(spec, role, evaluate, pricing) for role in ("teacher", "student")}
    summary = build_summary(
        spec,
        evaluate,
        runs,
        pricing=pricing,
        run_id=plan.run_dir.name,
        mode="offline",
        label_source="reference",
        projected=projected,
        notes=[
            f"offline run ({plan.reason}): gold labels stood in for the teacher's labels (reference labels); "
            "teacher and student were not called, so their cost is projected from token counts measured on "
            "the spec's rendered prompts and they have no accuracy in this run",
        ],
    )
    path = plan.run_dir / "summary.json"
    write_summary(summary, path)
    return path


def write_reports(run_dir: Path, formats: tuple[str, ...] = REPORT_FORMATS) -> list[Path]:
    """Render the run's report in each format beside its summary (atomically)."""
    from distilleval.report.render import EXTENSIONS, render_run

    written = []
    for fmt in formats:
        text = render_run(run_dir, fmt)
        target = run_dir / f"report{EXTENSIONS[fmt]}"
        write_text_atomic(target, text)
        written.append(target)
    return written


def _invoke(command: str, argv: list[str]):
    """Parse ``argv`` with a command's own parser; returns (module, namespace)."""
    import argparse
    import importlib

    module = importlib.import_module(f"distilleval.commands.{command}")
    parser = argparse.ArgumentParser(prog=f"distilleval {command}")
    module.add_arguments(parser)
    return module, parser.parse_args(argv)


def is_current(path: Path, fingerprint: str) -> bool:
    """Whether ``path`` exists and was made from inputs with this ``fingerprint``."""
    marker = path.with_name(path.name + ".fingerprint")
    return path.exists() and marker.is_file() and marker.read_text().strip() == fingerprint


def mark_current(path: Path, fingerprint: str) -> None:
    """Record that ``path`` is current for ``fingerprint`` (a ``<name>.fingerprint`` file beside it)."""
    write_text_atomic(path.with_name(path.name + ".fingerprint"), fingerprint + "\n")


def run_online(spec: TaskSpec, pricing: PricingTable, args, *, say=print) -> tuple[int, Path]:
    """label -> validate -> train -> eval -> report through the commands that own each step.

    Every model call goes through the shared response cache, so re-running an unchanged spec
    pays nothing; steps whose outputs carry the current fingerprint are skipped outright.

    Returns:
        (status, eval run directory); status 1 when the teacher fails validation (nothing is
        trained on bad labels), else 0.
    """
    from distilleval.backends.factory import is_tinker_model

    plan = plan_run(spec, pricing, runs_dir=Path(args.runs_dir), offline=False, limit=args.limit, reason="online")
    run_dir = plan.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
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
    module, namespace = _invoke("validate", [spec_path, "--split", "eval", "--spot-check", "3", "--out", str(validation), *shared])
    if module.run(namespace) == 1:
        say("validate  the teacher is below the spec's floor (gates.teacher_min): stopping before training on its labels")
        return 1, run_dir / "eval"

    student = spec.student.model
    if student.startswith("tinker://"):
        say(f"train     skipped: the spec's student is already a checkpoint ({student})")
    elif student == spec.training.base_model and is_tinker_model(student):
        train_dir = run_dir / "train"
        manifest_path = train_dir / "manifest.json"
        if not (is_current(manifest_path, plan.fingerprint) and not args.force):
            module, namespace = _invoke("train", [spec_path, "--data", str(labels), "--out", str(train_dir), *shared])
            module.run(namespace)
            mark_current(manifest_path, plan.fingerprint)
        import json

        sampler_path = json.loads(manifest_path.read_text())["sampler_path"]
        say(f"train     student checkpoint {sampler_path}")
        spec = spec.model_copy(update={"student": spec.student.model_copy(update={"model": sampler_path})})
    else:
        say(f"train     skipped: the student ({student}) is served by its provider; set it to training.base_model to fine-tune")

    from distilleval.commands import eval as eval_command

    eval_argv = [spec_path, "--out", str(run_dir / "eval"), *shared]
    if args.limit:
        eval_argv += ["--limit", str(args.limit)]
    _, namespace = _invoke("eval", eval_argv)
    eval_command.evaluate(spec, namespace)
    reports = write_reports(run_dir / "eval")
    say("report    " + ", ".join(str(path) for path in reports))
    return 0, run_dir / "eval"
