"""Load what a report or gate needs for one run: its summary, the pricing table and the spec it names.

A run folder stands alone: ``eval`` and ``run`` write the resolved spec (``spec.resolved.yaml``)
and a copy of the pricing table next to ``summary.json``, and those are read first, whatever
the working directory and wherever the folder has been moved, when their sha256 is the one the
summary records. Older run folders without them fall back to the files the summary names by
path: relative paths are tried against the working directory, then against the summary's
folder and its parents. What cannot be found is said, never replaced by a default.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from distilleval.costs.pricing import PricingTable, load_pricing
from distilleval.errors import DataError, DistillevalError
from distilleval.files import file_sha256
from distilleval.results.summary_json import SourceRef, Summary, read_summary
from distilleval.spec.resolved import RESOLVED_SPEC_FILE
from distilleval.spec.task_spec import TaskSpec, load_spec

_PARENT_LEVELS = 4


@dataclass
class RunInputs:
    """A run's summary with the pricing table and spec it names (None when they cannot be loaded).

    Attributes:
        summary: the parsed ``summary.json``.
        summary_path: the file it was read from.
        pricing: the pricing table that priced the run, or None.
        spec: the task spec of the run, or None.
        problems: one line per thing that could not be loaded or no longer matches its hash.
        spec_file: the spec file that was loaded (None when none was).
        spec_given: whether ``spec_file`` was given (``--spec``) instead of the one the run names.
    """

    summary: Summary
    summary_path: Path
    pricing: PricingTable | None = None
    spec: TaskSpec | None = None
    problems: list[str] = field(default_factory=list)
    spec_file: Path | None = None
    spec_given: bool = False


def summary_file(path: str | Path) -> Path:
    """The ``summary.json`` for a run directory or a summary path."""
    target = Path(path)
    return target / "summary.json" if target.is_dir() else target


def locate(ref: SourceRef, summary_path: Path) -> Path | None:
    """Find the file a summary refers to; None when no candidate exists."""
    recorded = Path(ref.path)
    if recorded.is_absolute():
        return recorded if recorded.is_file() else None
    candidates = [Path.cwd() / recorded]
    folder = summary_path.resolve().parent
    for _ in range(_PARENT_LEVELS + 1):
        candidates.append(folder / recorded)
        folder = folder.parent
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def run_pricing_file(summary: Summary, summary_path: Path) -> Path | None:
    """The pricing table that priced the run: the run folder's copy (same sha256), else the file
    the summary names (``locate``); None when neither is found."""
    copy = summary_path.parent / Path(summary.pricing.path).name
    if copy.is_file() and summary.pricing.sha256 and file_sha256(copy) == summary.pricing.sha256:
        return copy
    return locate(summary.pricing, summary_path)


def _resolved_spec(summary: Summary, target: Path, problems: list[str]) -> TaskSpec | None:
    """The run folder's resolved spec when it is of the spec the summary records, else None
    (a resolved spec of another version, or one that no longer loads, is noted in ``problems``)."""
    from distilleval.spec.resolved import load_resolved_spec

    resolved = target.parent / RESOLVED_SPEC_FILE
    if not resolved.is_file():
        return None
    try:
        spec = load_resolved_spec(resolved)
    except DistillevalError as err:
        problems.append(f"{resolved} could not be loaded ({err})")
        return None
    if spec.name != summary.spec_name or (summary.spec.sha256 and spec.source_sha256 != summary.spec.sha256):
        problems.append(f"{resolved} is of another spec than the run's (spec {spec.name!r}, sha256 "
                        f"{spec.source_sha256[:8]}; the run used {summary.spec_name!r}, {summary.spec.sha256[:8]})")
        return None
    return spec


def _hash_note(kind: str, path: Path, ref: SourceRef) -> str | None:
    if not ref.sha256:
        return None
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != ref.sha256:
        return f"{kind} {path} changed since the run (sha256 {actual[:8]}, run used {ref.sha256[:8]})"
    return None


def load_run(
    path: str | Path,
    *,
    spec_path: str | Path | None = None,
    pricing_path: str | Path | None = None,
    require_spec: bool = False,
    require_pricing: bool = False,
    summary: Summary | None = None,
) -> RunInputs:
    """Read a run's summary and, where possible, its pricing table and spec.

    Args:
        path: a run directory or a ``summary.json``.
        spec_path: use this spec instead of the one the summary names.
        pricing_path: use this pricing table instead of the one the summary names.
        require_spec: raise instead of noting a problem when the spec cannot be loaded.
        require_pricing: raise instead of noting a problem when the pricing table cannot be loaded.
        summary: the run's summary as the caller already holds it (``write_summary``'s result), used
            instead of reading and validating ``summary.json`` again.

    Returns:
        The loaded inputs; ``problems`` lists what is missing or changed.

    Raises:
        DataError: the summary is missing or invalid, a required file is missing, or the spec
            is a different task from the one the summary was made from.
        SpecError, PricingError: a required spec or pricing table is invalid.
    """
    target = summary_file(path)
    if summary is None:
        summary = read_summary(target)
    inputs = RunInputs(summary=summary, summary_path=target)

    pricing_file = Path(pricing_path) if pricing_path else run_pricing_file(summary, target)
    if pricing_file is None or not pricing_file.is_file():
        message = (f"{target}: pricing table {pricing_path} not found" if pricing_path else
                   f"{target}: the run's pricing table {summary.pricing.path} not found, and the run folder holds no "
                   "copy of it")
        if require_pricing:
            raise DataError(message + " (pass --pricing FILE)")
        inputs.problems.append(message)
    else:
        try:
            inputs.pricing = load_pricing(pricing_file)
        except DistillevalError:
            if require_pricing:
                raise
            inputs.problems.append(f"pricing table {pricing_file} is invalid")
        else:
            if pricing_path is None:
                note = _hash_note("pricing table", pricing_file, summary.pricing)
                if note:
                    inputs.problems.append(note)

    if spec_path is None:
        resolved = _resolved_spec(summary, target, inputs.problems)
        if resolved is not None:
            inputs.spec, inputs.spec_file = resolved, resolved.source
            return inputs
    spec_file = Path(spec_path) if spec_path else locate(summary.spec, target)
    if spec_file is None or not spec_file.is_file():
        message = (f"{target}: spec {spec_path} not found" if spec_path else
                   f"{target}: the run's spec {summary.spec.path} not found, and the run folder holds no "
                   f"{RESOLVED_SPEC_FILE} of it")
        if require_spec:
            raise DataError(message + " (pass --spec FILE)")
        inputs.problems.append(message)
        return inputs
    try:
        spec = load_spec(spec_file)
    except DistillevalError:
        if require_spec:
            raise
        inputs.problems.append(f"spec {spec_file} could not be loaded")
        return inputs
    if spec.name != summary.spec_name:
        raise DataError(
            f"{target}: summary is from spec {summary.spec_name!r} but {spec_file} is spec {spec.name!r}"
        )
    if spec_path is None:
        note = _hash_note("spec", spec_file, summary.spec)
        if note:
            inputs.problems.append(note)
    inputs.spec, inputs.spec_file, inputs.spec_given = spec, spec_file, spec_path is not None
    return inputs
