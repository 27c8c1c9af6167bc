"""The resolved spec a run folder keeps, so that the folder alone says how to judge the run.

``eval`` and the offline ``run`` write ``spec.resolved.yaml`` next to ``summary.json``: the spec
as the run used it, with prompt and system files inlined, file paths made absolute, and the
original spec file's path and sha256 under ``source``. ``report`` and ``gate`` read it back
whatever the working directory, and wherever the run folder has been moved, even after the
spec itself is gone. Reading it back checks no data file: judging a run needs the spec's gates,
traffic and models, not its items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distilleval.errors import SpecError
from distilleval.spec.scorer_config import JudgeScorer, SqlExecutionScorer
from distilleval.spec.task_spec import ModelSpec, TaskSpec, spec_from_mapping
from distilleval.spec.yaml_source import load_yaml_with_lines

RESOLVED_SPEC_FILE = "spec.resolved.yaml"


def resolved_spec_yaml(spec: TaskSpec) -> str:
    """``spec`` as YAML that stands alone: prompts inlined, paths absolute, its source named."""
    import yaml

    # Only the fields the spec set: some defaults depend on what was set (a recipe adapts the
    # epochs the spec left open), so writing every default would make another spec.
    resolved = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    resolved["data"]["path"] = str(spec.resolve(spec.data.path).resolve())
    if spec.data.pool:
        resolved["data"]["pool"] = str(spec.resolve(spec.data.pool).resolve())
    if spec.pricing:
        resolved["pricing"] = str(spec.resolve(spec.pricing).resolve())
    if isinstance(spec.scorer, SqlExecutionScorer):
        resolved["scorer"]["database"] = str(spec.resolve(spec.scorer.database).resolve())
    if isinstance(spec.scorer, JudgeScorer):
        resolved["scorer"]["criteria"] = str(spec.resolve(spec.scorer.criteria).resolve())
        if spec.scorer.alignment is not None:
            resolved["scorer"]["alignment"]["path"] = str(spec.resolve(spec.scorer.alignment.path).resolve())
    for role in ("teacher", "student"):
        _inline_prompts(resolved[role], spec.models()[role])
    for position, candidate in enumerate(spec.candidates):
        _inline_prompts(resolved["candidates"][position], candidate)
    if spec.iterate is not None and spec.iterate.generation_prompt:
        resolved["iterate"]["generation_prompt"] = spec.iterate.template
    resolved["source"] = {"path": str(spec.source), "sha256": spec.source_sha256}
    return yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)


def _inline_prompts(block: dict[str, Any], model: ModelSpec) -> None:
    """Write a model block's prompt and system message as the text it was sent (files read)."""
    block["prompt"] = model.prompt_text or model.prompt
    if model.system:
        block["system"] = model.system_text or model.system


def load_resolved_spec(path: str | Path) -> TaskSpec:
    """Load a run folder's ``spec.resolved.yaml`` as the spec the run used.

    The returned spec's ``source`` is the resolved file and its ``source_sha256`` the original
    spec's (the one ``summary.json`` records), so hash checks compare like with like.

    Raises:
        SpecError: the file is not a resolved spec, or does not validate (file, line, field).
    """
    source = Path(path)
    raw, lines = load_yaml_with_lines(source, SpecError)
    original = raw.pop("source", None) if isinstance(raw, dict) else None
    if not isinstance(original, dict) or not isinstance(original.get("sha256"), str):
        raise SpecError(f"{source}:1: source: a resolved spec names its original spec's path and sha256")
    return spec_from_mapping(raw, source, lines, sha256=original["sha256"], check_files=False)
