"""`distilleval eval SPEC`: run the spec's models over the eval split, score them, write a run.

The run directory (``runs/<spec>-<UTC time>/``) gets ``records.sqlite`` (one row per item x
model, committed as each call finishes), ``spec.resolved.yaml``, a copy of the pricing table
and ``summary.json``. ``--resume RUN`` continues a run and calls only what is missing; even
without it, re-running the same command replays finished calls from the response cache at $0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilleval.cli.argtypes import non_negative_int, positive_float, positive_int
from distilleval.files import write_text_atomic

if TYPE_CHECKING:
    from distilleval.data import Item
    from distilleval.spec import TaskSpec

HELP = "Run the spec's models over the eval split, score them, write a run directory"

MODEL_ROLES = ("teacher", "student")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval eval`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--resume", metavar="RUN", help="continue this run (a run directory, or its id under --runs-dir)")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N eval items")
    parser.add_argument(
        "--models", default=None, metavar="NAMES",
        help="comma-separated roles to run: teacher, student and baseline names (default: all)",
    )
    parser.add_argument("--concurrency", type=positive_int, default=16, metavar="N", help="calls in flight (default 16)")
    parser.add_argument("--rpm", type=positive_float, metavar="N", help="client-side requests per minute, per model")
    parser.add_argument("--tpm", type=positive_float, metavar="N", help="client-side tokens per minute, per model")
    parser.add_argument("--max-retries", type=non_negative_int, default=4, metavar="N", help="retries of a failed call (default 4)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    cache.add_argument("--refresh", action="store_true", help="call every model again and overwrite cached answers")
    parser.add_argument("--pricing", metavar="FILE", help="pricing table (default: the spec's, else the bundled one)")
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
    """Run the eval; returns 0 (errors in individual calls are counted in the summary).

    Everything that can fail before a model is called (spec, data, pricing, keys, reachable
    endpoints) is checked before the run directory is created.
    """
    from distilleval.spec import load_spec

    return evaluate(load_spec(args.spec), args)


def evaluate(spec: "TaskSpec", args: argparse.Namespace) -> int:
    """``eval`` on an already loaded spec (``run`` passes one whose student it trained)."""
    import asyncio

    from distilleval.data import load_items, split_items
    from distilleval.errors import DataError
    from distilleval.pricing import load_pricing
    from distilleval.runner import RunAborted
    from distilleval.runstore import RunStore

    pricing = load_pricing(args.pricing or (spec.resolve(spec.pricing) if spec.pricing else None))
    items = split_items(load_items(spec), "eval")
    if not items:
        raise DataError(f"{spec.resolve(spec.data.path)}: no items in the eval split")
    if args.limit:
        items = items[: args.limit]
    roles, baselines = _selected_models(spec, args.models)
    run_dir = _run_dir(spec, args)
    finished: set[tuple[str, str, int]] = set()
    if args.resume:
        with RunStore(run_dir) as previous:
            _check_resume(previous, spec, run_dir)
            finished = previous.finished_keys()
    # Interleaved by item, so a run stopped early has both models on the same items.
    calls = [_call_for(spec, role, item) for item in items for role in roles if (item.id, role, 0) not in finished]
    backends = _open_backends(spec, sorted({call.model for call in calls}), pricing)
    with RunStore(run_dir) as store:
        _check_resume(store, spec, run_dir)
        _write_run_files(spec, pricing, run_dir)
        if calls:
            try:
                asyncio.run(_call_models(spec, calls, backends, store, args))
            except RunAborted as err:
                raise RunAborted(f"{err} (finished calls are saved: fix this, then add --resume {run_dir})") from None
        outputs = {role: store.results(role) for role in roles}
    baseline_outputs = _run_baselines(spec, baselines, items, pricing)
    summary_path = _write_summary(spec, items, outputs, baseline_outputs, pricing, run_dir)
    print(f"distilleval eval: {len(items)} items x {len(roles) + len(baselines)} models -> {summary_path}")
    return 0


def _selected_models(spec: "TaskSpec", names: str | None) -> tuple[list[str], list[Any]]:
    from distilleval.errors import SpecError

    baselines = {b.display_name: b for b in spec.baselines}
    if names is None:
        return list(MODEL_ROLES), list(baselines.values())
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = list(MODEL_ROLES) + list(baselines)
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise SpecError(f"--models: unknown model {', '.join(unknown) or '(none given)'}; expected some of {', '.join(known)}")
    return [r for r in MODEL_ROLES if r in wanted], [baselines[n] for n in wanted if n in baselines]


def _run_dir(spec: "TaskSpec", args: argparse.Namespace) -> Path:
    from distilleval.errors import DataError

    runs_dir = Path(args.runs_dir)
    if getattr(args, "out", None):
        out = Path(args.out)
        if (out / "records.sqlite").is_file():
            args.resume = str(out)
        return out
    if args.resume:
        candidate = Path(args.resume)
        if not candidate.is_dir():
            candidate = runs_dir / args.resume
        if not (candidate / "records.sqlite").is_file():
            raise DataError(f"--resume {args.resume}: no run found (looked for {candidate / 'records.sqlite'})")
        return candidate
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = runs_dir / f"{spec.name}-{stamp}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = runs_dir / f"{spec.name}-{stamp}-{suffix}"
    return run_dir


def _check_resume(store: Any, spec: "TaskSpec", run_dir: Path) -> None:
    from distilleval.errors import SpecError

    recorded = store.get_meta("spec_sha256")
    if recorded is None:
        store.set_meta("spec_sha256", spec.source_sha256)
        store.set_meta("spec_name", spec.name)
        store.set_meta("created_at", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    elif recorded != spec.source_sha256:
        raise SpecError(
            f"{spec.source}: this spec changed since run {run_dir.name} was made "
            f"(sha256 {spec.source_sha256[:8]} vs {recorded[:8]}); start a new run instead of --resume"
        )


def _write_run_files(spec: "TaskSpec", pricing: Any, run_dir: Path) -> None:
    """The resolved spec (prompt files inlined, data path absolute) and the pricing table."""
    import yaml

    resolved = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    resolved["data"]["path"] = str(spec.resolve(spec.data.path).resolve())
    for role, model in spec.models().items():
        resolved[role]["prompt"] = model.prompt_text or model.prompt
    resolved["source"] = {"path": str(spec.source), "sha256": spec.source_sha256}
    write_text_atomic(run_dir / "spec.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    temporary = run_dir / (pricing.path.name + ".tmp")
    shutil.copyfile(pricing.path, temporary)
    temporary.replace(run_dir / pricing.path.name)


def _call_for(spec: "TaskSpec", role: str, item: "Item") -> Any:
    from distilleval.backends.base import ChatRequest
    from distilleval.messages import build_messages
    from distilleval.runner import Call

    model = spec.models()[role]
    messages = build_messages(model, item, spec.data.image_inputs)
    request = ChatRequest(messages=messages, max_tokens=model.max_tokens, temperature=model.temperature, stop=tuple(model.stop))
    return Call(item.id, role, request)


def _open_backends(spec: "TaskSpec", roles: list[str], pricing: Any) -> dict[str, Any]:
    """Backends for ``roles``; fails fast on a missing price or key, or a dead endpoint."""
    from distilleval.backends.factory import build_backend, check_reachable

    models = spec.models()
    backends = {role: build_backend(role, models[role], pricing=pricing) for role in roles}
    for role in roles:
        check_reachable(role, models[role])
    return backends


async def _call_models(spec: "TaskSpec", calls: list[Any], backends: dict[str, Any], store: Any, args: argparse.Namespace) -> None:
    """Run ``calls``; each final result is committed to ``store`` the moment it is known."""
    from distilleval.cache import ResponseCache, cache_path_for
    from distilleval.runner import Progress, Runner, RunnerOptions

    models = spec.models()
    cache = None
    if not args.no_cache:
        cache_path = cache_path_for(args.cache)
        cache = ResponseCache(cache_path, refresh=args.refresh)
    options = RunnerOptions(
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        timeout_s={role: models[role].timeout_s for role in backends},
        requests_per_minute={role: args.rpm for role in backends} if args.rpm else {},
        tokens_per_minute={role: args.tpm for role in backends} if args.tpm else {},
    )
    try:
        with Progress(len(calls), description=f"{spec.name}: calls") as progress:
            runner = Runner(backends, options=options, cache=cache, on_result=store.add, progress=progress)
            await runner.run(calls)
    finally:
        for backend in backends.values():
            await backend.aclose()
        if cache is not None:
            cache.close()


def _run_baselines(spec: "TaskSpec", baselines: list[Any], items: list["Item"], pricing: Any) -> list[Any]:
    """Train each selected local baseline on the training split and predict the eval items."""
    if not baselines:
        return []
    from distilleval.data import load_items, split_items
    from distilleval.pipeline import baseline_runs

    train = [item for item in split_items(load_items(spec), "train") if item.gold is not None]
    return baseline_runs(spec, train, items, pricing, baselines=baselines)


def _model_outputs(results: list[Any], items: list["Item"], price: Any, *, batch: bool) -> list[Any]:
    """The run store's rows for ``items`` as ``summarize.ModelOutput`` records.

    Every answered call is priced from its measured tokens with this run's pricing table, so
    a cache hit made under an older table is costed at today's prices (and spent nothing).
    """
    from distilleval.cost import request_cost_usd
    from distilleval.summarize import ModelOutput

    wanted = {item.id for item in items}
    outputs = []
    for r in results:
        if r.item_id not in wanted or r.repeat != 0:
            continue
        cost_usd = r.cost_usd
        if r.ok and r.input_tokens is not None and r.output_tokens is not None:
            cost_usd = request_cost_usd(price, r.input_tokens, r.output_tokens, batch=batch)
        outputs.append(
            ModelOutput(
                item_id=r.item_id,
                text=r.text if r.ok else None,
                error_kind=None if r.ok else r.error_kind,
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
                latency_ms=r.latency_ms,
                cost_usd=cost_usd,
                cache_hit=r.cache_hit,
            )
        )
    return outputs


def _write_summary(spec, items, outputs, baseline_outputs, pricing, run_dir: Path) -> Path:
    """Score every model's outputs and write ``summary.json`` (atomically)."""
    from distilleval.summarize import ModelRun, build_summary
    from distilleval.summary import write_summary

    models = spec.models()
    runs = [
        ModelRun(
            name=role,
            role=role,
            model=models[role].model,
            outputs=_model_outputs(
                results, items, pricing.price_for(models[role].pricing_key), batch=models[role].batch
            ),
        )
        for role, results in outputs.items()
    ]
    runs.extend(baseline_outputs)
    summary = build_summary(spec, items, runs, pricing=pricing, run_id=run_dir.name, mode="online")
    path = run_dir / "summary.json"
    write_summary(summary, path)
    return path
