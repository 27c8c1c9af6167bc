"""Where a ``distilleval run`` goes and whether its outputs are current.

A run directory is named by a fingerprint of everything that determines its result (spec,
prompts, data, pricing table, item limit, mode), so re-running an unchanged spec reuses it;
each step's output carries a ``<name>.fingerprint`` marker beside it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from distilleval.costs.pricing import PricingTable
from distilleval.files import LockHeld, exclusive_lock, file_sha256, write_text_atomic
from distilleval.spec.data import Item, split_items
from distilleval.spec.scorer_config import SqlExecutionScorer
from distilleval.spec.task_spec import TaskSpec
from distilleval.version import __version__

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


def tinker_credentials_found() -> bool:
    """Whether the tinker SDK finds a credential (local check; False when the SDK is not installed)."""
    try:
        from tinker.auth import tinker_has_credentials
    except ImportError:
        return bool(os.environ.get("TINKER_API_KEY"))
    return tinker_has_credentials()


def missing_credentials(spec: TaskSpec) -> list[str]:
    """The teacher/student (and judge) roles whose API key is not configured, as ``role (VARIABLE)``.

    A model on a custom ``api_base`` without ``api_key_env`` (a local server) needs no key.
    """
    from distilleval.backends.tinker.model_ids import is_tinker_model

    missing = []
    models = dict(spec.models())
    judge = spec.judge_model()
    if judge is not None:
        models["judge"] = judge
    for role, model in models.items():
        if is_tinker_model(model.model):  # a tinker:// checkpoint or a Tinker base model
            # The SDK's own resolution: a key, a JWT, TINKER_CREDENTIAL_CMD or `tinker auth login`.
            if tinker_credentials_found():
                continue
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
        spec.teacher.system_text,
        spec.student.prompt_text,
        spec.student.system_text,
        file_sha256(spec.resolve(spec.data.path)),
        pricing.sha256,
    ]
    for candidate in spec.candidates:  # a candidate's own prompt files decide its answers too
        parts += [candidate.name, candidate.prompt_text, candidate.system_text]
    if isinstance(spec.scorer, SqlExecutionScorer):
        parts.append(file_sha256(spec.resolve(spec.scorer.database)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def plan_run(spec: TaskSpec, pricing: PricingTable, *, runs_dir: Path, offline: bool, limit: int | None, reason: str) -> RunPlan:
    """Name the run directory after the fingerprint.

    Raises:
        ConfigurationError: the spec's ``training.base_model`` is not a model Tinker lists
            (per the offline copy of the lineup), before anything runs.
    """
    from distilleval.backends.tinker.catalogue import check_spec_base_model

    check_spec_base_model(spec)
    fingerprint = run_fingerprint(spec, pricing, offline=offline, limit=limit)
    mode = "offline" if offline else "online"
    return RunPlan(runs_dir / f"{spec.name}-{mode}-{fingerprint[:12]}", fingerprint, offline, reason)


def eval_items(items: Sequence[Item], limit: int | None) -> Sequence[Item]:
    """The eval split, cut to ``limit`` items (a view of ``LazyItems``, a list of any other sequence)."""
    from distilleval.spec.lazy_items import LazyItems

    if isinstance(items, LazyItems):
        lazy = items.of_split("eval")
        return lazy.head(limit) if limit else lazy
    chosen = split_items(items, "eval")
    return chosen[:limit] if limit else chosen


def is_current(path: Path, fingerprint: str) -> bool:
    """Whether ``path`` exists and was made from inputs with this ``fingerprint``."""
    marker = path.with_name(path.name + ".fingerprint")
    return path.exists() and marker.is_file() and marker.read_text().strip() == fingerprint


def mark_current(path: Path, fingerprint: str) -> None:
    """Record that ``path`` is current for ``fingerprint`` (a ``<name>.fingerprint`` file beside it)."""
    write_text_atomic(path.with_name(path.name + ".fingerprint"), fingerprint + "\n")


LOCK_FILE = ".lock"
"""The file in a run directory whose lock a writing process holds (see ``locked``)."""


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock while the block writes into it (the folder must exist).

    Raises:
        RunDirectoryBusy: another process is writing the same directory; it is left alone.
    """
    from distilleval.errors import RunDirectoryBusy

    try:
        with exclusive_lock(run_dir / LOCK_FILE):
            yield
    except LockHeld as held:
        raise RunDirectoryBusy(
            f"{run_dir}: another distilleval process (pid {held.holder or 'unknown'}) is writing this run "
            "directory; wait for it to finish, or write elsewhere (--runs-dir / --out)"
        ) from None


@contextmanager
def run_directory(path: Path, *, keep_partial: bool) -> Iterator[Path]:
    """Create a run directory for a step that may fail, hold its lock, and leave nothing
    behind if the step fails.

    On failure a directory this call created is removed: entirely when ``keep_partial`` is
    False (an offline run redoes everything anyway), otherwise only when it is still empty
    (online steps keep the labels they paid for, so a re-run resumes). A directory that existed
    before is never removed. A second process asking for the same directory while the first
    holds it is refused (``RunDirectoryBusy``) and removes nothing.
    """
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    with locked(path):
        try:
            yield path
        except BaseException:
            if created and path.is_dir():
                if not keep_partial:
                    shutil.rmtree(path, ignore_errors=True)
                elif not any(p.name != LOCK_FILE for p in path.iterdir()):
                    shutil.rmtree(path, ignore_errors=True)  # the lock file goes with it, still held
            raise
