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


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_fingerprint(spec: TaskSpec, pricing: PricingTable, *, offline: bool, limit: int | None) -> str:
    """A hash of everything that determines a run's result."""
    parts = [
        __version__,
        "offline" if offline else "online",
        str(limit),
        spec.source_sha256,
        spec.teacher.prompt_text,
        spec.student.prompt_text,
        _file_digest(spec.resolve(spec.data.path)),
        pricing.sha256,
    ]
    if spec.scorer.kind == "sql_execution":
        parts.append(_file_digest(spec.resolve(spec.scorer.database)))
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


def baseline_runs(spec: TaskSpec, train: list[Item], evaluate: list[Item], pricing: PricingTable, *, labels: list[str] | None = None, say=print) -> list:
    """Train every spec baseline on ``train`` and predict ``evaluate``; one ``ModelRun`` each."""
    from distilleval.baselines import train_baseline
    from distilleval.summarize import ModelOutput, ModelRun

    runs = []
    for baseline in spec.baselines:
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
        say(f"  no local baselines apply to this task (output kind {spec.output.kind!r}); nothing is scored offline")
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
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(target)
        written.append(target)
    return written


def run_online(spec: TaskSpec, pricing: PricingTable, args) -> int:
    """The online pipeline (placeholder until eval lands)."""
    from distilleval.errors import DistillevalError

    raise DistillevalError("online `distilleval run` needs the eval command; use --offline")
