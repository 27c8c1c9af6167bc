"""``label``: the teacher labels a pool of inputs into short-format training data (``distilleval label``).

Each output is checked against the spec's output kind (label set, JSON schema, read-only SQL);
valid ones become ``{"messages": [user: <raw input as the student sees it>, assistant: <label>]}``
lines, invalid ones and failed calls go to a quarantine file with the reason, and are never
trained on. Both files, and the ``<out>.summary.json`` that is the result's JSON, are written
whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilleval.pipeline.stages.arguments import Say, SpecArg, as_spec, silent

if TYPE_CHECKING:
    from distilleval.costs.pricing import PricingTable
    from distilleval.spec.data import Item
    from distilleval.spec.task_spec import TaskSpec


@dataclass(frozen=True)
class LabelResult:
    """What labelling the pool gave; its JSON is the ``<out>.summary.json`` ``label`` writes.

    Attributes:
        spec: the spec's name.
        teacher: the labelling model.
        labelled_by: its role (``teacher``) or candidate name.
        items: items sent to be labelled.
        labelled: valid labels written to ``out``.
        quarantined: outputs and failed calls written to ``quarantine``, with ``reasons`` counted.
        spent_usd: what the calls cost this run (cache hits at $0).
        cache_hits: calls answered from the response cache.
        input_tokens, output_tokens: tokens of the answered calls.
        labelling_cost_per_example_usd: the mean cost of an answered call made this run (None when every
            answer came from the cache).
        pricing_table: the pricing table's label.
        batch_api: the calls went through the provider's batch API.
        out, quarantine: the files written.
    """

    spec: str
    teacher: str
    labelled_by: str
    items: int
    labelled: int
    quarantined: int
    reasons: Mapping[str, int]
    spent_usd: float
    cache_hits: int
    input_tokens: int
    output_tokens: int
    labelling_cost_per_example_usd: float | None
    pricing_table: str
    batch_api: bool
    out: str
    quarantine: str


def label(
    spec: SpecArg,
    *,
    pool: str | None = None,
    limit: int | None = None,
    out: str | None = None,
    quarantine: str | None = None,
    concurrency: int = 16,
    max_retries: int = 4,
    cache: str | None = None,
    no_cache: bool = False,
    pricing: str | None = None,
    batch: bool = False,
    batch_poll: float = 10.0,
    say: Say = silent,
    warn: Say = silent,
) -> LabelResult:
    """Label the pool with the teacher (or the candidate with ``label_for_training``) and write the training
    data, the quarantine and the summary.

    Args:
        spec: the task spec, or its YAML file.
        pool: unlabelled inputs (default: ``data.pool``, else the train split).
        limit: label only the first N items in the canonical order (a hash of each item id).
        out: training JSONL to write (default ``runs/<spec>-labels.jsonl``).
        quarantine: invalid outputs (default ``<out>.quarantine.jsonl``).
        concurrency, max_retries: calls in flight, retries of a failed call.
        cache, no_cache: the response cache file (default ``$DISTILLEVAL_CACHE`` or the user cache), or none.
        pricing: pricing table YAML (default: the spec's, else the bundled table).
        batch: send the pool through the provider's batch API (resumed from ``<out>.batch/``).
        batch_poll: seconds before the first batch status check.
        say: where progress lines go; warn: where warnings go (duplicate training rows).

    Raises:
        DistillevalError: bad arguments, spec, pool or output paths, before any call is paid (one line).
    """
    import collections

    from distilleval.backends.request_checks import check_spec_settings
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.errors import DistillevalError
    from distilleval.files import write_text_atomic
    from distilleval.pipeline.preflight import check_label_inputs
    from distilleval.run.cache import cache_path_for
    from distilleval.training.duplicate_rows import duplicate_items
    from distilleval.training.label_checks import LabelChecker
    from distilleval.training.teacher import run_teacher

    if limit is not None and limit < 1:
        raise DistillevalError(f"--limit must be at least 1, got {limit}")
    if concurrency < 1:
        raise DistillevalError(f"--concurrency must be at least 1, got {concurrency}")
    if max_retries < 0:
        raise DistillevalError(f"--max-retries must be 0 or more, got {max_retries}")
    spec, _ = as_spec(spec)
    check_spec_settings(spec, roles=("teacher",))
    # Every input check before the first paid call (pipeline.preflight, shared with eval, run, estimate).
    checked = check_label_inputs(spec, pool=pool, limit=limit)
    items, source, pool_file = checked.items, checked.source, checked.path
    repeated = duplicate_items(items)
    if repeated is not None:
        warn(repeated.describe(source))
    out_path = Path(out) if out else Path("runs") / f"{spec.name}-labels.jsonl"
    quarantine_path = Path(quarantine) if quarantine else out_path.with_name(out_path.stem + ".quarantine.jsonl")
    table = resolve_pricing(spec, pricing)
    checker = LabelChecker(spec)
    cache_path = None if no_cache else cache_path_for(cache)
    summary_path = out_path.with_name(out_path.stem + ".summary.json")
    batch_dir = out_path.with_name(out_path.stem + ".batch")
    # Before any call is paid: the outputs must have somewhere to go.
    check_writable([out_path, quarantine_path, summary_path] + ([batch_dir / "records.sqlite"] if batch else []))

    if batch_poll <= 0:
        raise DistillevalError(f"--batch-poll must be positive, got {batch_poll}")
    labeller = spec.labeller()[1].model
    if batch:
        from distilleval.run.batch import BatchOptions
        from distilleval.training.teacher import run_teacher_batch

        _check_batch_inputs(spec, table, pool_file, batch_dir)
        say(f"labelling {len(items)} items from {source} with {labeller} through its batch API ({batch_dir})")
        results = run_teacher_batch(
            spec, items, pricing=table, cache_path=cache_path, run_dir=batch_dir,
            options=BatchOptions(poll_initial_s=batch_poll),
        )
    else:
        say(f"labelling {len(items)} items from {source} with {labeller}")
        results = run_teacher(
            spec, items, pricing=table, cache_path=cache_path, concurrency=concurrency, max_retries=max_retries,
        )

    rows: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    reasons: collections.Counter[str] = collections.Counter()
    for item, result in zip(items, results, strict=True):
        reason: str | None
        if not result.ok:
            reason, detail = f"call_failed:{result.error_kind}", result.error_message
        else:
            verdict = checker.check(result.text or "")
            if verdict.valid:
                messages = _student_messages(spec, item)
                rows.append({"messages": [*messages, {"role": "assistant", "content": verdict.label}]})
                continue
            reason, detail = verdict.reason, verdict.detail
        reasons[str(reason)] += 1  # an invalid verdict always names its reason
        rejected.append({"id": item.id, "line": item.line, "reason": reason, "detail": detail, "output": result.text})

    measured = [r for r in results if r.ok and not r.cache_hit]
    _write_jsonl_atomic(out_path, rows)
    _write_jsonl_atomic(quarantine_path, rejected)
    labelled = LabelResult(
        spec=spec.name,
        teacher=labeller,
        labelled_by=spec.labeller()[0],
        items=len(items),
        labelled=len(rows),
        quarantined=len(rejected),
        reasons=dict(reasons),
        spent_usd=sum(r.cost_usd for r in results),
        cache_hits=sum(1 for r in results if r.cache_hit),
        input_tokens=sum(r.input_tokens or 0 for r in results if r.ok),
        output_tokens=sum(r.output_tokens or 0 for r in results if r.ok),
        labelling_cost_per_example_usd=(sum(r.cost_usd for r in measured) / len(measured)) if measured else None,
        pricing_table=table.label,
        batch_api=batch,
        out=str(out_path),
        quarantine=str(quarantine_path),
    )
    from distilleval.pipeline.stages.result_json import to_json

    write_text_atomic(summary_path, to_json(labelled) + "\n")
    return labelled


def _write_jsonl_atomic(path: Path, rows: list[dict[str, Any]]) -> None:
    import json

    from distilleval.files import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def check_writable(paths: list[Path]) -> None:
    """Make sure each file of ``paths`` can be written (its folder is made, a probe file written
    and removed there), so a labelling run never pays for calls whose output has nowhere to go.

    Raises:
        DistillevalError: one line naming the path and why.
    """
    import os
    import tempfile

    from distilleval.errors import DistillevalError

    for path in paths:
        try:
            if path.is_dir():
                raise IsADirectoryError(21, "is a directory", str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
            os.close(handle)
            os.unlink(probe)
        except OSError as err:
            raise DistillevalError(
                f"{path}: cannot write here ({err.strerror or err}); nothing was called or paid: "
                "choose a writable --out (or --quarantine)"
            ) from None


def _check_batch_inputs(spec: TaskSpec, pricing: PricingTable, pool_file: Path, batch_dir: Path) -> None:
    """A ``<out>.batch/`` folder left by an earlier ``label --batch`` is continued only with the
    inputs it started with (pool, rubric, teacher settings, pricing); else one line, exit 2."""
    from distilleval.errors import DistillevalError
    from distilleval.run.identity import RunInputsChanged, run_identity
    from distilleval.run.store import RECORDS_FILE, RunStore

    try:
        identity = run_identity(spec, pricing, roles=["teacher"], data_file=pool_file, include_spec=False)
    except OSError as err:
        raise DistillevalError(f"{pool_file}: cannot read the pool ({err.strerror or err})") from None
    with RunStore(batch_dir) as store:
        change = store.check_identity(identity)
    if change is not None:
        raise RunInputsChanged(
            f"{batch_dir / RECORDS_FILE}: {change}; its batches are for the old inputs: put the old input back and "
            f"re-run to collect them, or move {batch_dir} away (or choose another --out) to label afresh"
        )


def _student_messages(spec: TaskSpec, item: Item) -> list[dict[str, Any]]:
    """The student's turns in the short format: images as ``{type: image, path}`` parts (absolute paths)."""
    from distilleval.spec.messages import build_messages

    messages = []
    for message in build_messages(spec.student, item, spec.data.image_inputs, embed_images=False):
        message = dict(message)
        if isinstance(message.get("content"), list):
            parts = []
            for part in message["content"]:
                if part.get("type") == "image_url":
                    path = part["image_url"]["url"].removeprefix("file://")
                    parts.append({"type": "image", "path": str(Path(path).resolve())})
                else:
                    parts.append(part)
            message["content"] = parts
        messages.append(message)
    return messages
