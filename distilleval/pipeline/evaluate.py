"""Evaluate a spec: run its models over the eval split, score them, write a run directory.

The run directory (``runs/<spec>-<UTC time>/``) gets ``records.sqlite`` (one row per item x
model, committed as each call finishes), ``spec.resolved.yaml``, a copy of the pricing table
and ``summary.json``. Resuming a run calls only what is missing, and only when the inputs that
decide its answers are those it started with (``run.identity``); even without it, evaluating
the same spec again replays finished calls from the response cache at $0.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from distilleval.files import write_text_atomic
from distilleval.pipeline.call_outputs import model_outputs as _model_outputs
from distilleval.pipeline.call_outputs import priced_cost as _priced_cost
from distilleval.spec.data import Item
from distilleval.spec.task_spec import TaskSpec

MODEL_ROLES = ("teacher", "student")
"""The two roles every spec has; its prompted candidates are called too, by name (``TaskSpec.models``)."""


@dataclass
class EvalOptions:
    """How to evaluate: which models, where the run goes, the cache, and the call limits.

    Attributes:
        pricing: pricing table file (default: the spec's, else the bundled one).
        limit: only the first N eval items.
        models: comma-separated roles and baseline names to run (default: all).
        resume: continue this run (a run directory, or its id under ``runs_dir``).
        out: this exact run directory (continued when it already holds a run of the spec).
        runs_dir: where new run directories go.
        cache: response cache file (default ``$DISTILLEVAL_CACHE`` or the user cache).
        no_cache: neither read nor write the response cache.
        refresh: call every model again and overwrite cached answers.
        concurrency: calls in flight.
        max_retries: retries of a failed call.
        give_up_after_s: how long a model that answered before may fail every attempt (connection
            errors, timeouts) before the run stops, saying how to resume.
        rpm: client-side requests per minute, per model.
        tpm: client-side tokens per minute, per model.
        student_training: how the caller made the student (``run`` after training it), for the summary.
        latency_probe: ``(calls, concurrency)`` of the latency probe, overriding the spec's
            ``latency:`` block (``(0, 1)``: no probe).
        batch: send the teacher's and student's calls through their providers' batch APIs.
        batch_poll: seconds before the first batch status check.
    """

    pricing: str | None = None
    limit: int | None = None
    models: str | None = None
    resume: str | None = None
    out: str | None = None
    runs_dir: str = "runs"
    cache: str | None = None
    no_cache: bool = False
    refresh: bool = False
    concurrency: int = 16
    max_retries: int = 4
    give_up_after_s: float = 30.0
    rpm: float | None = None
    tpm: float | None = None
    student_training: str | None = None
    latency_probe: tuple[int, int] | None = None
    batch: bool = False
    batch_poll: float = 10.0


def evaluate(spec: TaskSpec, options: EvalOptions) -> Path:
    """Run, score and summarise ``spec``'s models; returns the run directory.

    Everything that can fail before a model is called (spec, data: see
    ``pipeline.preflight``, pricing, keys, reachable endpoints) is checked before the run
    directory is created. Errors in individual calls are counted in the summary, not raised.

    Raises:
        DataError: a data problem (``pipeline.preflight.check_eval_inputs``), or ``resume`` names no run.
        SpecError: unknown ``models``.
        RunInputsChanged: the run being continued (``resume``, or ``out`` holding a run) was
            made from other inputs (data, prompts, model settings, pricing, spec): one line naming it.
        RunStoreError: the run store is damaged, or the run directory cannot be written.
        RunAborted: a failure that stops every call (bad key, unreachable model).
        KeyboardInterrupt: Ctrl-C or SIGTERM; finished calls are committed and the exception
            carries ``resume_run`` (the run directory) for the CLI's resume hint.
    """
    import gc

    try:
        return _evaluate(spec, options)
    finally:
        gc.unfreeze()  # what ``_freeze_long_lived`` set aside is the collector's again


def _evaluate(spec: TaskSpec, options: EvalOptions) -> Path:
    """``evaluate``'s work."""
    import asyncio

    from distilleval.backends.request_checks import check_spec_settings
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.costs.spec_prices import check_spec_priced
    from distilleval.pipeline.eval_calls import EvalCalls
    from distilleval.pipeline.latency_probe import latency_context, roles_to_probe
    from distilleval.pipeline.preflight import check_eval_inputs, check_scorer
    from distilleval.run.runner import RunAborted
    from distilleval.run.store import RunStore

    pricing = resolve_pricing(spec, options.pricing)
    roles, baselines = _selected_models(spec, options.models)
    # Baselines are priced after the model calls: an unpriced one must fail before anything is paid.
    check_spec_priced(spec, pricing, roles=roles, baselines=[b.display_name for b in baselines])
    check_spec_settings(spec, roles)
    # Every input check (gold on each eval row, classes for the baselines, ...) before anything is paid.
    checked = check_eval_inputs(spec, limit=options.limit, baselines=baselines)
    items = checked.evaluate
    check_scorer(spec)
    _check_judge_inputs(spec, options)
    if options.batch:
        _check_batch_roles(spec, roles, pricing)
    run_dir, resume = _run_dir(spec, options)
    identity = _identity(spec, pricing, roles)
    probe_calls, probe_concurrency = options.latency_probe or (spec.latency.probe_calls, spec.latency.concurrency)
    finished: set[tuple[str, str, int]] = set()
    to_probe = roles_to_probe(_NoMeta(), roles, probe_calls)
    if resume:
        with RunStore(run_dir) as previous:
            _check_resume(previous, spec, run_dir, identity, open_batches=bool(options.batch and not options.resume
                                                                                 and not options.out))
            finished = previous.finished_keys()
            to_probe = roles_to_probe(previous, roles, probe_calls)
    # Built as the runner draws them, interleaved by item (a run stopped early has both models on the same items).
    calls = EvalCalls(spec, items, roles, finished)
    _freeze_long_lived()
    probe = [_call_for(spec, role, item) for item in items[:probe_calls] for role in to_probe]
    backends = _open_backends(spec, None if options.batch else calls, pricing, options, also=to_probe)
    run_dir = _make_run_dir(run_dir, reuse=bool(options.out or resume))
    try:
        with _writing(run_dir), RunStore(run_dir) as store, _following(
                spec, checked, roles, baselines, options, pricing, run_dir, store) as follower:
            _check_resume(store, spec, run_dir, identity)
            write_run_files(spec, pricing, run_dir)
            _phase("calls", total=len(calls))
            if follower is not None:
                follower.start()
            if options.batch and len(calls):
                asyncio.run(_call_models_in_batches(spec, calls, store, options, pricing, run_dir))
                calls = EvalCalls(spec, [], roles)
            if len(calls) or probe:
                try:
                    asyncio.run(_call_models(spec, calls, probe, backends, store, options, pricing, probe_concurrency))
                except RunAborted as err:
                    raise RunAborted(f"{err} (finished calls are saved: fix this, then add --resume {run_dir})") from None
            _phase("reading results")
            # A judge-scored run reads every answer (its judge calls need them); any other run's
            # answers are read a chunk at a time while scoring (``pipeline.streamed_summary``), most of
            # them already, while the calls were made (``_following``).
            outputs = {role: store.results(role) for role in roles} if spec.scorer.kind == "judge" else None
            _freeze_long_lived()
            judged = _judge(spec, list(items), outputs, store, pricing, options) if outputs is not None else None
            contexts = {role: latency_context(store, role) for role in roles}
            batch_notes = _batch_providers(store, roles)
            if follower is not None:
                _phase("scoring")
                store.flush()  # the follower reads through its own connection: the last cache hits committed
                summary_path = run_dir / "summary.json"
                written = follower.finish(_called_runs(spec, roles, pricing, contexts, batch_notes))
        if follower is None:
            _phase("baselines" if baselines else "scoring")
            baseline_outputs = _run_baselines(spec, baselines, items, checked.train, pricing)
            _phase("scoring")
            summary_path = _write_summary(
                spec, items, outputs, baseline_outputs, pricing, run_dir, contexts,
                student_training=options.student_training, batch_notes=batch_notes, judged=judged,
                all_items=checked.items, roles=roles,
            )
        else:
            _decide(spec, run_dir, summary_path, written, checked.items, counted=follower.first_result)
    except KeyboardInterrupt as interrupted:
        # Ctrl-C or SIGTERM: every finished call is committed; the CLI prints how to go on.
        interrupted.resume_run = run_dir  # type: ignore[attr-defined]
        raise
    print(f"distilleval eval: {len(items)} items x {len(roles) + len(baselines)} models -> {summary_path}")
    return run_dir


def _freeze_long_lived() -> None:
    """Keep the objects made so far (the items, the results read back) out of the cyclic garbage collector's
    full passes: they live until the run ends and hold no cycles, yet each full pass walked every one of them
    (at 100,000 items, a third of the CPU time of replaying cached calls and reading results went to that).
    They are still freed as soon as nothing refers to them; ``evaluate`` unfreezes everything when it ends, so a
    process that goes on (tests, ``iterate``) loses no garbage to it."""
    import gc

    gc.freeze()


def _phase(name: str, *, total: int | None = None) -> None:
    """Tell the progress heartbeat, when one runs (output not on a terminal), what the run is doing."""
    from distilleval.run.heartbeat import active

    beat = active()
    if beat is not None:
        beat.set_phase(name, total=total)
def _check_judge_inputs(spec: TaskSpec, options: EvalOptions) -> None:
    """Before anything is paid: the judge's criteria and alignment set read, and its key, when its calls
    cannot all come from the response cache (no cache file, ``--no-cache`` or ``--refresh``; otherwise it
    is checked on the first miss)."""
    from distilleval.backends.credentials import resolve_api_key
    from distilleval.pipeline.judging import criteria_text, load_alignment
    from distilleval.run.cache import cache_path_for

    judge = spec.judge_model()
    if judge is None:
        return
    criteria_text(spec)
    load_alignment(spec)
    if options.no_cache or options.refresh or not cache_path_for(options.cache).is_file():
        resolve_api_key(judge.model, api_key_env=judge.api_key_env, api_base=judge.api_base, role="judge")


class _NoMeta:
    """The meta table of a run not yet made: nothing recorded."""

    def get_meta(self, key: str, default: Any = None) -> Any:
        return default


def _selected_models(spec: TaskSpec, names: str | None) -> tuple[list[str], list[Any]]:
    from distilleval.errors import SpecError

    baselines = {b.display_name: b for b in spec.baselines}
    called = list(spec.models())  # teacher, student, then the candidates by name
    if names is None:
        return called, list(baselines.values())
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = called + list(baselines)
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise SpecError(f"--models: unknown model {', '.join(unknown) or '(none given)'}; expected some of {', '.join(known)}")
    return [r for r in called if r in wanted], [baselines[n] for n in wanted if n in baselines]


def _run_dir(spec: TaskSpec, options: EvalOptions) -> tuple[Path, bool]:
    """The run directory, and whether it continues an earlier run."""
    from distilleval.errors import DataError

    runs_dir = Path(options.runs_dir)
    if options.out:
        out = Path(options.out)
        return out, bool(options.resume) or (out / "records.sqlite").is_file()
    if options.resume:
        candidate = Path(options.resume)
        if not candidate.is_dir():
            candidate = runs_dir / options.resume
        if not (candidate / "records.sqlite").is_file():
            raise DataError(f"--resume {options.resume}: no run found (looked for {candidate / 'records.sqlite'})")
        return candidate, True
    if options.batch:
        open_run = _run_with_open_batches(spec, runs_dir)
        if open_run is not None:
            print(f"distilleval eval: {open_run} has batches submitted and not yet collected: resuming it")
            return open_run, True
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return runs_dir / f"{spec.name}-{stamp}", False  # claimed (made unique) when the run starts writing


def _run_with_open_batches(spec: TaskSpec, runs_dir: Path) -> Path | None:
    """The newest run of this very spec whose provider batches were submitted but never collected
    (the command was killed while polling): re-running ``eval --batch`` continues it."""
    from distilleval.run.batch_ledger import has_open_jobs, recorded_meta

    candidates = sorted(runs_dir.glob(f"{spec.name}-*/records.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
    for records in candidates:
        if recorded_meta(records, "spec_sha256") == spec.source_sha256 and has_open_jobs(records):
            return records.parent
    return None


def _check_batch_roles(spec: TaskSpec, roles: list[str], pricing: Any) -> None:
    """Before anything is made: every called role has a provider batch API and a batch price."""
    from distilleval.backends.batch_api import check_batch_capable
    from distilleval.errors import ConfigurationError

    models = spec.models()
    for role in roles:
        check_batch_capable(role, models[role].model)
        if not pricing.price_for(pricing.key_for(models[role])).has_batch_tier:
            raise ConfigurationError(
                f"--batch: the {role} model {models[role].model!r} has no batch price in {pricing.label} (batch_discount)"
            )


async def _call_models_in_batches(
    spec: TaskSpec, calls: Any, store: Any, options: EvalOptions, pricing: Any, run_dir: Path
) -> None:
    """Each role's ``calls`` through its provider's batch API (``distilleval.run.batch``), results into ``store``
    (none is read back: the caller reads the store). From an ``EvalCalls`` (the models' calls) each role's calls
    are drawn lazily, a batch at a time; a list (the judge's calls, already held) is split by role."""
    from distilleval.pipeline.eval_calls import EvalCalls
    from distilleval.run.batch import BatchOptions, run_model_in_batches
    from distilleval.run.cache import ResponseCache, cache_path_for

    models = dict(spec.models())
    judge = spec.judge_model()
    if judge is not None:
        from distilleval.pipeline.judging import JUDGE_ROLES

        models.update({role: judge for role in JUDGE_ROLES})
    cache = None if options.no_cache else ResponseCache(cache_path_for(options.cache), refresh=options.refresh)
    lazy = isinstance(calls, EvalCalls)
    try:
        for role in sorted(calls.roles if lazy else {call.model for call in calls}):
            await run_model_in_batches(
                role, models[role], calls.of_role(role) if lazy else [call for call in calls if call.model == role],
                store=store, cache=cache,
                price=pricing.price_for(pricing.key_for(models[role])), work_dir=run_dir,
                options=BatchOptions(poll_initial_s=options.batch_poll), results=False,
            )
    finally:
        if cache is not None:
            cache.close()


def _batch_providers(store: Any, roles: list[str]) -> dict[str, str]:
    """Role -> provider, for each role whose calls went through a provider batch API in this run."""
    from distilleval.run.batch_ledger import BatchLedger

    with BatchLedger(store.path) as ledger:
        return {role: jobs[0].provider for role in roles if (jobs := ledger.jobs(role))}


def _identity(spec: TaskSpec, pricing: Any, roles: list[str]) -> dict[str, Any]:
    """This run's identity (``run.identity``): data file, prompts, model settings, pricing, spec."""
    from distilleval.errors import DataError
    from distilleval.run.identity import run_identity

    data_file = spec.resolve(spec.data.path)
    try:
        return run_identity(spec, pricing, roles=roles, data_file=data_file)
    except OSError as err:
        raise DataError(f"{data_file}: cannot read the data file ({err.strerror or err})") from None


def _check_resume(
    store: Any, spec: TaskSpec, run_dir: Path, identity: dict[str, Any], *, open_batches: bool = False
) -> None:
    """Record a new run's identity, or refuse to continue a run whose inputs changed since it started.

    ``open_batches``: the run was picked because its provider batches were never collected
    (``eval --batch`` without ``--resume``); the refusal then says how to collect or leave them.

    Raises:
        RunInputsChanged: one line naming what changed (the data file, a prompt or rubric
            file, a model setting, the pricing table, the spec file).
    """
    from distilleval.run.identity import IDENTITY_META, RunInputsChanged

    recorded_spec = store.get_meta("spec_sha256")
    if recorded_spec is None:
        store.set_meta("spec_sha256", spec.source_sha256)
        store.set_meta("spec_name", spec.name)
        store.set_meta("created_at", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    elif store.get_meta(IDENTITY_META) is None and recorded_spec != spec.source_sha256:
        # A run made before identities were recorded: its spec file is all that can be compared.
        raise RunInputsChanged(
            f"{run_dir}: the spec file {spec.source} changed since this run started (sha256 {recorded_spec[:12]} -> "
            f"{spec.source_sha256[:12]}); {_START_AFRESH}"
        )
    change = store.check_identity(identity)
    if change is not None and open_batches:
        raise RunInputsChanged(
            f"{run_dir}: has provider batches submitted and not collected, but {change}; put the old input back and "
            "run the same command to collect them (their answers then serve every unchanged call from the cache), "
            "or pass --out NEW_DIR to start a new run and leave them"
        )
    if change is not None:
        raise RunInputsChanged(f"{run_dir}: {change}; {_START_AFRESH}")


_START_AFRESH = (
    "its answers are to the old inputs: start a new run (without --resume, or with another --out), "
    "or put the old input back to continue this one"
)


def _make_run_dir(run_dir: Path, *, reuse: bool) -> Path:
    """Create (or, continuing a run, keep) the run directory; a new one is claimed unique even in the same second.

    Raises:
        RunStoreError: the folder cannot be created (read-only, full disk).
    """
    from distilleval.files import claim_new_directory
    from distilleval.run.store import store_error

    try:
        if reuse:
            run_dir.mkdir(parents=True, exist_ok=True)
            return run_dir
        return claim_new_directory(run_dir.parent, run_dir.name)
    except OSError as err:
        raise store_error(run_dir / "records.sqlite", err) from None


@contextmanager
def _writing(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock (``pipeline.plan.locked``); an unwritable folder is one line, not a traceback."""
    from distilleval.pipeline.plan import locked
    from distilleval.run.store import store_error

    with ExitStack() as stack:
        try:
            stack.enter_context(locked(run_dir))
        except OSError as err:
            raise store_error(run_dir / "records.sqlite", err) from None
        yield


def write_run_files(spec: TaskSpec, pricing: Any, run_dir: Path) -> None:
    """What ``report`` and ``gate`` read from the run folder alone: the resolved spec (prompt
    files inlined, paths absolute: ``spec.resolved``) and a copy of the pricing table."""
    from distilleval.spec.resolved import RESOLVED_SPEC_FILE, resolved_spec_yaml

    write_text_atomic(run_dir / RESOLVED_SPEC_FILE, resolved_spec_yaml(spec))
    temporary = run_dir / (pricing.path.name + ".tmp")
    shutil.copyfile(pricing.path, temporary)
    temporary.replace(run_dir / pricing.path.name)


def _call_for(spec: TaskSpec, role: str, item: Item) -> Any:
    from distilleval.backends.base import ChatRequest
    from distilleval.run.runner import Call
    from distilleval.spec.messages import build_messages

    model = spec.models()[role]
    messages = build_messages(model, item, spec.data.image_inputs)
    request = ChatRequest(
        messages=messages, max_tokens=model.max_tokens, temperature=model.temperature, stop=tuple(model.stop),
        reasoning_effort=model.reasoning_effort, thinking_budget_tokens=model.thinking_budget_tokens,
    )
    return Call(item.id, role, request)


def _open_backends(
    spec: TaskSpec, calls: Any, pricing: Any, options: EvalOptions, *, also: Sequence[str] = ()
) -> dict[str, Any]:
    """Backends for the roles of ``calls`` (an ``EvalCalls``; None: none) and ``also`` (roles the
    latency probe will call); fails fast on a missing price or key, or a dead endpoint.

    A role whose every call is answered by the response cache (and that is not probed) gets a
    ``LazyBackend``: no provider SDK is imported and no key or endpoint is needed unless a
    call misses after all.
    """
    from distilleval.backends.factory import build_backend, check_reachable
    from distilleval.run.cache import cache_path_for
    from distilleval.run.lazy import LazyBackend

    models = spec.models()
    called = calls.roles if calls is not None else []
    roles = sorted(set(called) | set(also))
    for role in roles:
        pricing.price_for(pricing.key_for(models[role]))
    cache_path = None if options.no_cache or options.refresh else cache_path_for(options.cache)
    missing = (calls.roles_with_misses(cache_path) if calls is not None else set()) | set(also)
    backends: dict[str, Any] = {}
    calls_per_role = calls.counts if calls is not None else {}
    for role in roles:
        if role in missing:
            backends[role] = build_backend(
                role, models[role], pricing=pricing, calls=calls_per_role.get(role, 0), concurrency=options.concurrency
            )
            check_reachable(role, models[role])
        else:
            backends[role] = LazyBackend(
                models[role].model, functools.partial(build_backend, role, models[role], pricing=pricing)
            )
    return backends


async def _call_models(
    spec: TaskSpec,
    calls: Any,
    probe: list[Any],
    backends: dict[str, Any],
    store: Any,
    options: EvalOptions,
    pricing: Any,
    probe_concurrency: int,
) -> None:
    """Run ``calls`` (an ``EvalCalls``: the response cache's hits committed to ``store`` in bulk,
    each other final result the moment it is known), then the latency probe's ``probe`` calls;
    the latency context of both goes to the store's meta."""
    from distilleval.pipeline.latency_probe import record_under_load, run_probe
    from distilleval.run.cache import ResponseCache, cache_path_for
    from distilleval.run.runner import Progress, Runner, RunnerOptions

    models = spec.models()
    cache = None
    if not options.no_cache:
        cache_path = cache_path_for(options.cache)
        cache = ResponseCache(cache_path, refresh=options.refresh)
    timeouts = {role: models[role].timeout_s for role in backends}
    runner_options = RunnerOptions(
        concurrency=options.concurrency,
        max_retries=options.max_retries,
        timeout_s=timeouts,
        requests_per_minute={role: options.rpm for role in backends} if options.rpm else {},
        tokens_per_minute={role: options.tpm for role in backends} if options.tpm else {},
        give_up_after_s=options.give_up_after_s,
        endpoints={role: api_base for role in backends if (api_base := models[role].api_base)},
    )
    try:
        if len(calls):
            with Progress(len(calls), description=f"{spec.name}: calls") as progress:
                runner = Runner(backends, options=runner_options, cache=cache, on_result=store.add, progress=progress)

                def hits(role: str, count: int) -> None:
                    runner.note_hits(role, count)
                    progress.advance_hits(count)

                model_ids = {role: backends[role].model_id for role in calls.roles}
                try:
                    await runner.run(calls.calls(cache, store, model_ids, on_hits=hits), total=len(calls),
                                     keep_results=False)
                finally:
                    record_under_load(store, runner, options.concurrency, sorted(runner.called_roles))
        if probe:
            def price_of(role: str, result: Any) -> float:
                model = models[role]
                return _priced_cost(result, pricing.price_for(pricing.key_for(model)), batch=model.batch)

            await run_probe(backends, probe, concurrency=probe_concurrency, timeout_s=timeouts,
                            max_retries=options.max_retries, store=store, price_of=price_of)
    finally:
        for backend in backends.values():
            await backend.aclose()
        if cache is not None:
            cache.close()


def _run_baselines(spec: TaskSpec, baselines: list[Any], items: Sequence[Item], train: Sequence[Item],
                   pricing: Any) -> list[Any]:
    """Train each selected local baseline on ``train`` (the training split's items with gold) and predict the eval items."""
    if not baselines:
        return []
    from distilleval.pipeline.baseline_runs import baseline_runs

    return baseline_runs(spec, list(train), list(items), pricing, baselines=baselines)


def _judge_summary(spec: TaskSpec, items: list[Item], runs: list[Any], scorer: Any, judged: Any, pricing: Any) -> Any:
    """``summary.judge``: the judge's calls and cost, its alignment, raw and corrected figures, pairwise."""
    from distilleval.costs.pricing import priced_as
    from distilleval.files import file_sha256
    from distilleval.pipeline.judging import alignment_result, pairwise_judgments, usable
    from distilleval.results.judge_pairwise import pairwise_result
    from distilleval.results.judge_summary import build_judge_summary
    from distilleval.scoring.judge import ALIGNMENT_ROLE, PAIRWISE_ROLE

    work, texts, calls, batched_roles = judged
    judge = spec.judge_model()
    assert judge is not None  # called for a judge-scored spec only
    price = pricing.price_for(pricing.key_for(judge))
    verdicts: dict[str, dict[str, bool | None]] = {}
    for run in runs:
        if run.role not in ("teacher", "student"):
            continue
        per_item = verdicts.setdefault(run.name, {})
        for output in run.outputs:
            if output.text is not None:
                verdict = scorer.verdict_for(output.item_id, output.text)
                per_item[output.item_id] = None if verdict is None else verdict.passed
    pairwise = None
    if spec.judge_settings().pairwise and texts[PAIRWISE_ROLE]:
        pairwise = pairwise_result("teacher", "student", pairwise_judgments(items, texts[PAIRWISE_ROLE]))
    return build_judge_summary(
        spec.judge_settings(), criteria_sha256=file_sha256(spec.resolve(spec.judge_settings().criteria)), calls=calls,
        price_call=lambda call: _priced_cost(call, price, batch=judge.batch or call.model in batched_roles),
        usable=lambda call: usable(spec, call),
        verdicts=verdicts, alignment=alignment_result(spec, work.alignment, texts[ALIGNMENT_ROLE]),
        pairwise=pairwise, margin=spec.gates.non_inferiority_margin, alpha=spec.gates.alpha,
        max_error_rate=spec.gates.max_error_rate, priced_as=priced_as(judge, pricing),
    )


def _judge(spec: TaskSpec, items: list[Item], outputs: dict[str, list[Any]], store: Any, pricing: Any,
           options: EvalOptions) -> Any:
    """Make the judge's calls the run still needs (``pipeline.judging``; with ``--batch`` through its provider's
    batch API when it has one) and read back all of them, with the judge roles that went through a batch API."""
    import asyncio

    from distilleval.pipeline.judging import JUDGE_ROLES, call_judge, judge_texts, plan_judge_calls
    from distilleval.run.runner import RunAborted

    work = plan_judge_calls(spec, items, outputs)
    finished = store.finished_keys()
    missing = [call for call in work.calls if call.key not in finished]
    try:
        if options.batch and _batch_capable(spec.judge_model()):
            asyncio.run(_call_models_in_batches(spec, missing, store, options, pricing, store.path.parent))
        else:
            asyncio.run(call_judge(spec, missing, store, pricing, options))
    except RunAborted as err:
        raise RunAborted(f"judge: {err} (finished calls are saved: fix this, then add --resume {store.path.parent})") from None
    wanted = {call.key for call in work.calls}
    calls = [r for role in JUDGE_ROLES for r in store.results(role) if (r.item_id, r.model, r.repeat) in wanted]
    return work, judge_texts(store), calls, set(_batch_providers(store, list(JUDGE_ROLES)))


def _batch_capable(model: Any) -> bool:
    """Whether ``model``'s provider has a batch API here (``--batch`` sends the judge's calls there too)."""
    from distilleval.backends.batch_api import check_batch_capable
    from distilleval.errors import ConfigurationError

    try:
        check_batch_capable("judge", model.model)
    except ConfigurationError:
        return False
    return True


def _write_summary(
    spec, items, outputs, baseline_outputs, pricing, run_dir: Path, contexts=None, *, student_training=None,
    batch_notes=None, judged=None, all_items=None, roles=None,
) -> Path:
    """Score every model's outputs and write ``summary.json`` (atomically); a role in
    ``batch_notes`` (role -> provider) went through that provider's batch API and is priced at the batch tier;
    ``judged`` (``_judge``'s result) holds a judge-scored run's judge calls; ``all_items`` (every item of the
    data file, as loaded before the calls) spares the decision reading the data file again.

    ``outputs`` None: the run's answers are read from its run store a chunk at a time while scoring
    (``pipeline.streamed_summary``; ``roles`` are the called roles); this is how a run with baselines or
    ``--batch`` is summarised (any other run but a judge-scored one was scored while its calls ran:
    ``_following``). Otherwise
    ``outputs`` (role -> the run store's ``CallResult`` rows) is emptied as each role is converted, and
    the scored runs and the in-memory summary (every item's ``ItemResult``) are let go once the summary is
    written: the decision that follows reads the run back, and these copies were the bulk of the peak."""
    from distilleval.backends.request_params import model_notes
    from distilleval.costs.pricing import priced_as
    from distilleval.results.build import ModelRun, build_summary
    from distilleval.results.summary_json import write_summary
    from distilleval.scoring import build_scorer

    models = spec.models()
    if outputs is None:
        path = run_dir / "summary.json"
        written = _write_streamed(spec, items, roles, baseline_outputs, pricing, run_dir, contexts,
                                  student_training=student_training, batch_notes=batch_notes)
        return _decide(spec, run_dir, path, written, all_items)
    runs = []
    for role in list(outputs):
        # One role's CallResults at a time, dropped once converted: never both copies of every role at once.
        results = outputs.pop(role)
        runs.append(ModelRun(
            name=role,
            role=spec.role_of(role),
            model=models[role].model,
            display_name=role if spec.role_of(role) == "candidate" else None,
            outputs=_model_outputs(
                results, items, pricing.price_for(pricing.key_for(models[role])),
                batch=models[role].batch or role in (batch_notes or {}),
            ),
            batch=models[role].batch or role in (batch_notes or {}),
            batch_api=(batch_notes or {}).get(role),
            priced_as=priced_as(models[role], pricing),
            latency=(contexts or {}).get(role),
            notes=model_notes(models[role]),
        ))
        del results
    runs.extend(baseline_outputs)
    with build_scorer(spec) as scorer:
        if judged is not None:
            scorer.verdicts = judged[1]["judge"]
        summary = build_summary(
            spec, items, runs, pricing=pricing, run_id=run_dir.name, scorer=scorer, mode="online",
            student_training=student_training,
        )
        if judged is not None:
            summary = summary.model_copy(update={"judge": _judge_summary(spec, items, runs, scorer, judged, pricing)})
    path = run_dir / "summary.json"
    written = write_summary(summary, path)
    # The rows are in the item store now; the decision reads the run back (``written`` has no items).
    del summary, runs
    return _decide(spec, run_dir, path, written, all_items)


def _decide(spec: TaskSpec, run_dir: Path, path: Path, written: Any, all_items: Any, *, counted: Any = None) -> Path:
    """Record the decision and the cascades' routing beside the written summary; returns its path.
    ``counted``: the data's counts (``_data_counts``) made while the calls ran, for the eval items the
    summary has (else counted here)."""
    from distilleval.pipeline.decision import record_decision
    from distilleval.report.data_counts import eval_limits

    if counted is not None and counted[0] == eval_limits(written):
        # As recorded counts: the decision takes them (``report.data_counts.stored_counts``) instead of counting.
        record_decision(run_dir, summary=written.model_copy(update={"spec_data": counted[1]}))
    else:
        # The items loaded before the calls: the data file read again would be a second copy of them at the peak.
        record_decision(run_dir, summary=written, items=all_items)
    write_routing(spec, written, run_dir)
    return path


def _write_streamed(spec: TaskSpec, items: list[Item], roles: list[str], baseline_outputs: list[Any], pricing: Any,
                    run_dir: Path, contexts: Any, *, student_training: str | None, batch_notes: Any) -> Any:
    """Score the run a chunk of items at a time from its run store (``pipeline.streamed_summary``)
    and write ``summary.json``; returns the summary as written."""
    from distilleval.pipeline.streamed_summary import write_streamed_summary
    from distilleval.scoring import build_scorer

    runs = _called_runs(spec, roles, pricing, contexts, batch_notes)
    with build_scorer(spec) as scorer:
        return write_streamed_summary(spec, items, runs, baseline_outputs, pricing=pricing, run_dir=run_dir,
                                      scorer=scorer, student_training=student_training)


def _called_runs(spec: TaskSpec, roles: list[str], pricing: Any, contexts: Any, batch_notes: Any) -> list[Any]:
    """A ``ModelRun`` per called role, outputs left empty (the streamed summary reads them from the run store)."""
    from distilleval.backends.request_params import model_notes
    from distilleval.costs.pricing import priced_as
    from distilleval.results.build import ModelRun, Role

    models = spec.models()
    notes = batch_notes or {}
    return [
        ModelRun(
            name=role, role=cast(Role, spec.role_of(role)), model=models[role].model,
            display_name=role if spec.role_of(role) == "candidate" else None, outputs=[],
            batch=models[role].batch or role in notes, batch_api=notes.get(role),
            priced_as=priced_as(models[role], pricing), latency=(contexts or {}).get(role),
            notes=model_notes(models[role]),
        )
        for role in roles
    ]


@contextmanager
def _following(spec: TaskSpec, checked: Any, roles: list[str], baselines: list[Any], options: EvalOptions,
               pricing: Any, run_dir: Path, store: Any) -> Iterator[Any]:
    """A ``ScoringFollower`` that scores the run while its calls are made, where that gives today's summary:
    a scorer other than the judge (whose calls need every answer first), no baselines (their outputs come
    after the calls), and not ``--batch`` (results come a whole batch at a time). None elsewhere. It also
    counts the data for the decision first (``_data_counts``). Left early (an error, Ctrl-C), the follower
    is stopped and what it began is undone."""
    from distilleval.pipeline.scoring_follower import ScoringFollower

    if spec.scorer.kind == "judge" or baselines or options.batch or not roles:
        yield None
        return
    # Priced as the calls will leave them: a non-batch run records no batch job (its notes are the run's so far).
    runs = _called_runs(spec, roles, pricing, None, _batch_providers(store, roles))
    # Every summary model's ``n`` is the eval items': the limits the decision will count the data over.
    limits = {role: len(checked.evaluate) for role in roles if spec.role_of(role) in ("teacher", "student")}
    follower = ScoringFollower(spec, checked.evaluate, runs, pricing=pricing, run_dir=run_dir,
                               student_training=options.student_training,
                               first=functools.partial(_data_counts, spec, checked.items, limits, run_dir.parent))
    try:
        yield follower
    except BaseException:
        follower.stop()
        raise


def _data_counts(spec: TaskSpec, all_items: Any, limits: dict[str, int], runs_folder: Path) -> tuple[dict[str, int], Any] | None:
    """What the decision counts from the data (``report.data_counts.count_data``: every prompt's tokens) over
    ``limits`` (role -> eval items), named by the spec and data file as ``record_decision`` records them,
    with ``limits``; None when the data file cannot be hashed (the decision then counts, as it always did).
    An earlier run in ``runs_folder`` that counted the same data under the same prompts, counters and limits
    lends its counts (``report.data_counts.earlier_counts``) instead."""
    from distilleval.report.data_counts import count_data, counts_key, data_file_sha256, earlier_counts

    data_sha = data_file_sha256(spec)
    if data_sha is None:
        return None
    key = counts_key(spec, limits, data_sha)
    counted = earlier_counts(runs_folder, key) if key is not None else None
    if counted is None:
        counted = count_data(spec, all_items, limits)
    return limits, counted.model_copy(update={"spec_sha256": spec.source_sha256, "data_sha256": data_sha,
                                              "counted_with": key or ""})


ROUTING_FILE = "routing.json"


def write_routing(spec: TaskSpec, summary: Any, run_dir: Path) -> Path | None:
    """Write ``routing.json`` beside the summary: each cascade's chosen policy (first model,
    fallback, confidence rule and basis, threshold, the guarantee) for a service to load.
    Nothing is written for a spec without cascades."""
    import json

    from distilleval.results.cascade_summary import routing_policy

    if not summary.cascades:
        return None
    models = spec.models()
    policies = [routing_policy(spec, cascade, models) for cascade in summary.cascades]
    path = run_dir / ROUTING_FILE
    write_text_atomic(path, json.dumps({"schema_version": 1, "run_id": summary.run_id, "cascades": policies}, indent=2,
                                       ensure_ascii=False))
    return path
