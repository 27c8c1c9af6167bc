"""The judge's calls of a judge-scored run: grading, alignment and pairwise, through the runner.

The judge is one more model role to the runner (``judge``, ``judge_alignment``,
``judge_pairwise``): its calls use the response cache, retries, the time limit, the run store
(so a killed run resumes without paying again) and the pricing table like every other call.
A grading call's item id is the item and a hash of the answer (``scoring.judge.answer_key``),
so the judge never learns which model wrote an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilleval.errors import DataError
from distilleval.scoring.judge import (
    ALIGNMENT_ROLE,
    JUDGE_ROLE,
    PAIRWISE_ROLE,
    answer_key,
    judge_messages,
    pairwise_messages,
    parse_preference,
    parse_verdict,
)
from distilleval.spec.scorer_config import JudgeScorer
from distilleval.spec.task_spec import TaskSpec

JUDGE_ROLES = (JUDGE_ROLE, ALIGNMENT_ROLE, PAIRWISE_ROLE)
PASS_WORDS = {"pass": True, "true": True, "1": True, "yes": True, "right": True,
              "fail": False, "false": False, "0": False, "no": False, "wrong": False}


@dataclass(frozen=True)
class AlignmentRow:
    """One human-judged answer: the inputs, the answer, the human verdict, and its line."""

    id: str
    inputs: dict[str, str]
    output: str
    human_pass: bool
    reference: str | None = None
    line: int = 0


@dataclass
class JudgeWork:
    """The judge calls a run needs, by role, and the alignment rows they grade."""

    calls: list[Any] = field(default_factory=list)
    alignment: list[AlignmentRow] = field(default_factory=list)


def criteria_text(spec: TaskSpec) -> str:
    """The criteria file's text (``scorer.criteria``)."""
    path = spec.resolve(spec.judge_settings().criteria)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the judge's criteria file ({err})") from None


def load_alignment(spec: TaskSpec) -> list[AlignmentRow]:
    """The alignment set's rows (``scorer.alignment``); empty when the spec declares none.

    Raises:
        DataError: a row without an input column, the output or a readable verdict: file, line, field.
    """
    from distilleval.spec.data import read_records

    config = spec.judge_settings().alignment
    if config is None:
        return []
    path = spec.resolve(config.path)
    rows = []
    for line, record in read_records(path):
        inputs = {}
        for name, column in spec.data.input.items():
            if record.get(column) in (None, ""):
                raise DataError(f"{path}:{line}: {column}: missing (the input field {name!r} of the spec)")
            inputs[name] = str(record[column])
        output = record.get(config.output)
        if output in (None, ""):
            raise DataError(f"{path}:{line}: {config.output}: missing (the judged answer)")
        verdict = PASS_WORDS.get(str(record.get(config.verdict, "")).strip().lower())
        if verdict is None:
            raise DataError(f"{path}:{line}: {config.verdict}: expected pass or fail (true/false, 1/0), "
                            f"found {record.get(config.verdict)!r}")
        reference = spec.judge_settings().reference
        if reference is not None and record.get(reference) in (None, ""):
            raise DataError(f"{path}:{line}: {reference}: missing (the reference answer scorer.reference shows the judge)")
        rows.append(AlignmentRow(id=f"align-{line}", inputs=inputs, output=str(output), human_pass=verdict,
                                 reference=None if reference is None else str(record[reference]), line=line))
    return rows


def _request(messages: tuple, spec: TaskSpec) -> Any:
    from distilleval.backends.base import ChatRequest

    return ChatRequest(messages=messages, max_tokens=spec.judge_settings().max_tokens, temperature=0.0)


def _reference(spec: TaskSpec, item: Any) -> str | None:
    return None if spec.judge_settings().reference is None or item.gold is None else str(item.gold)


def plan_judge_calls(spec: TaskSpec, items: list[Any], outputs: dict[str, list[Any]]) -> JudgeWork:
    """Every judge call the run needs: one per distinct (item, answer) of the called models, one per
    alignment row, and two per item (both orders) in pairwise mode."""
    from distilleval.run.runner import Call

    criteria = criteria_text(spec)
    by_id = {item.id: item for item in items}
    work = JudgeWork(alignment=load_alignment(spec))
    seen: set[str] = set()
    answers: dict[str, dict[str, str]] = {}
    for role, results in outputs.items():
        for result in results:
            item = by_id.get(result.item_id)
            if item is None or not result.ok or result.repeat != 0 or result.text is None:
                continue
            answers.setdefault(role, {})[item.id] = result.text
            key = answer_key(item.id, result.text)
            if key in seen:
                continue
            seen.add(key)
            messages = judge_messages(criteria, item.inputs, result.text, reference=_reference(spec, item),
                                      scale=spec.judge_settings().scale)
            work.calls.append(Call(key, JUDGE_ROLE, _request(messages, spec)))
    for row in work.alignment:
        messages = judge_messages(criteria, row.inputs, row.output, reference=row.reference,
                                  scale=spec.judge_settings().scale)
        work.calls.append(Call(row.id, ALIGNMENT_ROLE, _request(messages, spec)))
    if spec.judge_settings().pairwise and {"teacher", "student"} <= set(answers):
        for item in items:
            teacher, student = answers["teacher"].get(item.id), answers["student"].get(item.id)
            if teacher is None or student is None:
                continue
            reference = _reference(spec, item)
            for suffix, first, second in (("ab", teacher, student), ("ba", student, teacher)):
                messages = pairwise_messages(criteria, item.inputs, first, second, reference=reference)
                work.calls.append(Call(f"{item.id}~{suffix}", PAIRWISE_ROLE, _request(messages, spec)))
    return work


async def call_judge(spec: TaskSpec, calls: list[Any], store: Any, pricing: Any, options: Any) -> None:
    """Run the judge's ``calls`` through the runner, each result committed to ``store`` as it is final."""
    from distilleval.backends.factory import build_backend, check_reachable
    from distilleval.run.cache import ResponseCache, cache_path_for
    from distilleval.run.lazy import LazyBackend, roles_with_misses
    from distilleval.run.runner import Progress, Runner, RunnerOptions

    if not calls:
        return
    judge = spec.judge_model()
    assert judge is not None  # called for a judge-scored spec only
    cache_path = None if options.no_cache or options.refresh else cache_path_for(options.cache)
    if roles_with_misses(calls, {role: judge.model for role in JUDGE_ROLES}, cache_path):
        backend = build_backend("judge", judge, pricing=pricing, calls=len(calls), concurrency=options.concurrency)
        check_reachable("judge", judge)
    else:
        backend = LazyBackend(judge.model, lambda: build_backend("judge", judge, pricing=pricing))
    cache = None if options.no_cache else ResponseCache(cache_path_for(options.cache), refresh=options.refresh)
    runner_options = RunnerOptions(
        concurrency=options.concurrency, max_retries=options.max_retries,
        timeout_s={role: judge.timeout_s for role in JUDGE_ROLES}, give_up_after_s=options.give_up_after_s,
        endpoints={role: judge.api_base for role in JUDGE_ROLES} if judge.api_base else {},
    )
    try:
        with Progress(len(calls), description=f"{spec.name}: judge") as progress:
            runner = Runner({role: backend for role in JUDGE_ROLES}, options=runner_options, cache=cache,
                            on_result=store.add, progress=progress)
            await runner.run(calls)
    finally:
        await backend.aclose()
        if cache is not None:
            cache.close()


def judge_texts(store: Any) -> dict[str, dict[str, str | None]]:
    """Role -> judge call item id -> the judge's answer (None for a failed call), from the run store."""
    texts: dict[str, dict[str, str | None]] = {role: {} for role in JUDGE_ROLES}
    for role in JUDGE_ROLES:
        for result in store.results(role):
            texts[role][result.item_id] = result.text if result.ok else None
    return texts


def usable(spec: TaskSpec, call: Any) -> bool:
    """Whether an answered judge call holds what it was asked for (a verdict, or a preference)."""
    if call.model == PAIRWISE_ROLE:
        return parse_preference(call.text) is not None
    judge = spec.judge_settings()
    return parse_verdict(call.text, scale=judge.scale, pass_score=judge.pass_score) is not None


def alignment_result(spec: TaskSpec, rows: list[AlignmentRow], texts: dict[str, str | None]) -> Any:
    """The judge measured on the alignment rows (``results.judge_alignment``), None without an alignment set."""
    from distilleval.files import file_sha256
    from distilleval.results.judge_alignment import measure_alignment

    judge = spec.judge_settings()
    config = judge.alignment
    if config is None:
        return None
    judged = []
    for row in rows:
        verdict = parse_verdict(texts.get(row.id), scale=judge.scale, pass_score=judge.pass_score)
        judged.append(None if verdict is None else verdict.passed)
    path = spec.resolve(config.path)
    return measure_alignment(
        [row.human_pass for row in rows], judged, path=str(path), sha256=file_sha256(Path(path)),
        min_rows=config.min_rows, min_sensitivity_lower=config.min_sensitivity_lower,
        min_specificity_lower=config.min_specificity_lower,
    )


def pairwise_judgments(items: list[Any], texts: dict[str, str | None]) -> list[tuple[str | None, str | None]]:
    """``(teacher-first, student-first)`` preferences per item that was judged side by side."""
    judged = []
    for item in items:
        first, second = f"{item.id}~ab", f"{item.id}~ba"
        if first in texts or second in texts:
            judged.append((parse_preference(texts.get(first)), parse_preference(texts.get(second))))
    return judged


ALIGNMENT_FILE = "alignment.json"


def measure_judge(spec: TaskSpec, options: Any) -> tuple[Path, Any]:
    """``distilleval align``: the judge graded on the alignment set, stored in a run folder.

    The judge's calls go through the runner and a run store like an eval's (cache, retries,
    resume with ``options.out``); the folder gets ``records.sqlite`` and ``alignment.json``.

    Args:
        spec: a judge-scored spec with ``scorer.alignment``.
        options: an ``pipeline.evaluate.EvalOptions`` (cache, concurrency, retries, ``out``, ``runs_dir``).

    Returns:
        The folder and the ``JudgeAlignmentResult``.

    Raises:
        SpecError: the spec has no judge or no alignment set.
    """
    import asyncio
    import datetime as dt

    from distilleval.costs.pricing import resolve_pricing
    from distilleval.costs.spec_prices import check_spec_priced
    from distilleval.errors import SpecError
    from distilleval.files import claim_new_directory, write_text_atomic
    from distilleval.run.store import RunStore

    if not isinstance(spec.scorer, JudgeScorer) or spec.scorer.alignment is None:
        raise SpecError(f"{spec.source}: scorer.alignment: align measures a judge on its alignment set; this spec's "
                        "scorer is not a judge with an alignment set (scorer: {kind: judge, alignment: {path: ...}})")
    pricing = resolve_pricing(spec, options.pricing)
    check_spec_priced(spec, pricing, roles=[])
    rows = load_alignment(spec)
    criteria = criteria_text(spec)
    from distilleval.run.runner import Call

    calls = [Call(row.id, ALIGNMENT_ROLE, _request(judge_messages(criteria, row.inputs, row.output,
                                                                  reference=row.reference, scale=spec.judge_settings().scale),
                                                   spec)) for row in rows]
    if options.out:
        folder = Path(options.out)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        folder = claim_new_directory(Path(options.runs_dir), f"{spec.name}-align-{stamp}")
    with RunStore(folder) as store:
        finished = store.finished_keys()
        asyncio.run(call_judge(spec, [c for c in calls if c.key not in finished], store, pricing, options))
        texts = judge_texts(store)[ALIGNMENT_ROLE]
    result = alignment_result(spec, rows, texts)
    write_text_atomic(folder / ALIGNMENT_FILE, result.model_dump_json(indent=2))
    return folder, result
