"""`distilleval score`: score prediction files against the spec's gold, without calling a model.

Each predictions file is JSONL, one object per line::

    {"id": "item-17", "output": "refund"}
    {"id": "item-18", "output": null, "error": "timeout"}

Optional fields per line: ``error`` (failure kind), ``input_tokens``, ``output_tokens``,
``latency_ms``, ``cost_usd``, ``cache_hit``; other fields are ignored. ``output`` may also be a
JSON object or list (JSON tasks), which is scored as its JSON text. Items of the scored split
that a file lacks count as errors of kind ``missing``.

A failed or missing prediction is missing data, as in ``eval``: each metric is over the items
the model answered, each paired comparison over the items both models answered (and says how
many were dropped), and each model's failures are printed by kind. When a model failed more
than ``--max-error-rate`` (default: the spec's ``gates.max_error_rate``, 2% unless set) of its
items, the command exits 1 after writing summary.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from distilleval.commands.options import add_pricing_option

HELP = "Score prediction files against the spec's gold without calling any model"

_ROLES = ("teacher", "student")
_NUMBER_FIELDS = {"input_tokens": int, "output_tokens": int, "latency_ms": float, "cost_usd": float}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval score`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--predictions", action="append", required=True, metavar="FILE",
                        help="JSONL with item id + raw output; repeat for several models")
    parser.add_argument("--model", action="append", default=None, metavar="NAME",
                        help="name of each predictions file's model, in order (teacher/student give roles; "
                             "default: the file name)")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="summary.json to write (default runs/<spec>-score-<timestamp>/summary.json)")
    parser.add_argument("--split", choices=("eval", "train", "all"), default="eval",
                        help="which items to score (default: eval)")
    add_pricing_option(parser, "pricing table (default: the spec's)")
    from distilleval.commands.argument_types import resample_count

    parser.add_argument("--resamples", type=resample_count, default=2000,
                        help="bootstrap replicates where a bootstrap is used (at least 100; default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--max-error-rate", type=_error_rate, default=None, metavar="RATE",
                        help="exit 1 when a model failed (or lacks) more than this share of its predictions "
                             "(default: the spec's gates.max_error_rate, 0.02 unless set)")


def _error_rate(text: str) -> float:
    """Parse ``--max-error-rate``: a share between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, found {text!r}") from None
    if not 0 <= value <= 1:  # also False for NaN
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, found {text!r}")
    return value


def _field_error(path: Path, line: int, field: str, message: str) -> Exception:
    from distilleval.errors import DataError

    return DataError(f"{path}:{line}: field {field!r}: {message}")


def _describe(value: Any) -> str:
    text = repr(value)
    return (text[:40] + "...") if len(text) > 43 else text


def read_predictions(path: Path, known_ids: set[str], *, price: Any = None, batch: bool = False) -> list[Any]:
    """Parse one predictions file.

    Args:
        path: the JSONL file.
        known_ids: every item id of the spec's data (any split).
        price: the model's pricing entry; prices lines that give tokens but no ``cost_usd``.
        batch: price at the batch tier.

    Returns:
        One ``ModelOutput`` per line.

    Raises:
        DataError: one line naming file, line and field for the first bad record.
    """
    import json

    from distilleval.errors import DataError
    from distilleval.results.build import ModelOutput
    from distilleval.spec.data import iter_jsonl

    outputs: list[ModelOutput] = []
    seen: dict[str, int] = {}
    try:
        handle = path.open("rb")  # iter_jsonl decodes each line, so a non-UTF-8 file is named at its line
    except FileNotFoundError:
        raise DataError(f"{path}: predictions file not found") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read predictions ({err})") from None
    with handle:
        for line, record in iter_jsonl(handle, path):
            if "id" not in record:
                raise _field_error(path, line, "id", "required field is missing")
            raw_id = record["id"]
            if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
                raise _field_error(path, line, "id", f"expected a string or integer, found {_describe(raw_id)}")
            item_id = str(raw_id)
            if item_id not in known_ids:
                raise _field_error(path, line, "id", f"no item {item_id!r} in the spec's data")
            if item_id in seen:
                raise _field_error(path, line, "id", f"duplicate id {item_id!r} (first on line {seen[item_id]})")
            seen[item_id] = line
            if "output" not in record:
                raise _field_error(path, line, "output", "required field is missing (use null for a failed call)")
            output = record["output"]
            if isinstance(output, (dict, list)):
                output = json.dumps(output, ensure_ascii=False)
            elif output is not None and not isinstance(output, str):
                raise _field_error(path, line, "output", f"expected a string, object or null, found {_describe(output)}")
            error = record.get("error")
            if error is not None and not isinstance(error, str):
                raise _field_error(path, line, "error", f"expected a string or null, found {_describe(error)}")
            numbers: dict[str, Any] = {}
            for name, kind in _NUMBER_FIELDS.items():
                value = record.get(name)
                if value is None:
                    continue
                valid = not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0
                if kind is int:
                    valid = valid and float(value).is_integer()
                if not valid:
                    expected = "a non-negative integer" if kind is int else "a non-negative number"
                    raise _field_error(path, line, name, f"expected {expected}, found {_describe(value)}")
                numbers[name] = kind(value)
            cache_hit = record.get("cache_hit", False)
            if not isinstance(cache_hit, bool):
                raise _field_error(path, line, "cache_hit", f"expected true or false, found {_describe(cache_hit)}")
            if output is None and error is None:
                error = "no_output"
            if "cost_usd" not in numbers and price is not None and "input_tokens" in numbers:
                from distilleval.costs.cost_model import request_cost_usd

                numbers["cost_usd"] = request_cost_usd(price, numbers["input_tokens"],
                                                       numbers.get("output_tokens", 0), batch=batch)
            outputs.append(ModelOutput(item_id=item_id, text=output, error_kind=error, cache_hit=cache_hit,
                                       input_tokens=numbers.get("input_tokens"),
                                       output_tokens=numbers.get("output_tokens"),
                                       latency_ms=numbers.get("latency_ms"),
                                       cost_usd=numbers.get("cost_usd", 0.0)))
    if not outputs:
        raise DataError(f"{path}: the predictions file has no records")
    return outputs


def _model_names(args: argparse.Namespace) -> list[str]:
    from distilleval.errors import DistillevalError

    files = [Path(p) for p in args.predictions]
    names = args.model or [p.stem for p in files]
    if len(names) != len(files):
        raise DistillevalError(f"--model was given {len(names)} time(s) for {len(files)} --predictions file(s); "
                               "give one name per file, in the same order")
    if len(set(names)) != len(names):
        raise DistillevalError(f"model names must be distinct, got {', '.join(names)} (name them with --model)")
    return names


def _format_metric(metric: Any) -> str:
    if metric is None or metric.value is None:
        return "n/a"
    if metric.ci_low is None:
        return f"{metric.value:.3f}"
    return f"{metric.value:.3f} [{metric.ci_low:.3f}, {metric.ci_high:.3f}]"


def _dropped_text(dropped: int) -> str:
    if not dropped:
        return ""
    return f" ({dropped} item{'s' if dropped != 1 else ''} dropped: a prediction failed or is missing)"


def _print_report(summary: Any, out: Path) -> None:
    from tabulate import tabulate

    rows = []
    methods: list[str] = []
    for name, result in summary.models.items():
        errors = sum(result.errors.values())
        rows.append([
            name, result.role, result.n, result.n_scored, _format_metric(result.metric),
            f"{errors} ({result.error_rate:.1%})",
            "n/a" if result.invalid_rate is None else f"{result.invalid_rate:.1%}",
        ])
        if result.metric is not None and result.metric.ci_method and result.metric.ci_low is not None:
            methods.append(f"{name}: {result.metric.ci_method}")
    headers = ["model", "role", "items", "scored", f"{summary.primary_metric} [95% CI]", "errors", "invalid"]
    print(tabulate(rows, headers=headers, tablefmt="simple"))
    for line in methods:
        print(f"  interval of {line}")
    for comparison in summary.comparisons:
        print()
        dropped = _dropped_text(comparison.dropped_failed)
        if comparison.difference is None:
            print(f"{comparison.b} vs {comparison.a}: no paired items to compare{dropped}")
            continue
        interval = ""
        if comparison.ci_low is not None:
            interval = f" [{comparison.ci_low:+.3f}, {comparison.ci_high:+.3f}] (95% CI)"
        print(f"{comparison.b} - {comparison.a} on {comparison.n_paired} paired items{dropped}: "
              f"{comparison.difference:+.3f}{interval}")
        print(f"  method: {comparison.ci_method}")
        if comparison.p_value is not None:
            # The p of the test the interval inverts: the interval excludes 0 exactly when p < 0.05.
            print(f"  p = {comparison.p_value:.4f} ({comparison.p_method})")
        if comparison.discordant:
            print(f"  only {comparison.a} right: {comparison.discordant['a_only']}, "
                  f"only {comparison.b} right: {comparison.discordant['b_only']}")
        if comparison.agreement is not None:
            print(f"  agreement of {comparison.b} with {comparison.a}: {comparison.agreement:.1%}")
        verdict = comparison.non_inferiority
        if verdict is not None:
            decision = verdict.decision or ("non-inferior" if verdict.non_inferior else "not shown non-inferior")
            upper = "" if verdict.upper_bound is None else f", upper bound {verdict.upper_bound:+.3f}"
            print(f"  at margin {verdict.margin:g}: {decision} "
                  f"(one-sided {1 - verdict.alpha:.0%} lower bound {verdict.lower_bound:+.3f}{upper}; {verdict.method})")
    for note in summary.notes:
        print(f"note: {note}")
    print(f"\nwrote {out}")


def run(args: argparse.Namespace) -> int:
    """Score the prediction files and write summary.json.

    Returns:
        1 when a model's error rate (failed and missing predictions) is above the limit
        (summary.json is written all the same), else 0.
    """
    from distilleval.commands.eval import report_failed_calls
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.results.build import ModelRun, Role, build_summary
    from distilleval.results.summary_json import write_summary
    from distilleval.scoring import build_scorer
    from distilleval.spec.data import load_items
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(args.spec)
    names = _model_names(args)
    all_items = load_items(spec)
    items = all_items if args.split == "all" else [item for item in all_items if item.split == args.split]
    if not items:
        from distilleval.errors import DataError

        raise DataError(f"{spec.resolve(spec.data.path)}: no items in the {args.split!r} split to score")
    known_ids = {item.id for item in all_items}
    pricing = resolve_pricing(spec, args.pricing)
    runs = []
    for name, file in zip(names, args.predictions):
        role: Role = "teacher" if name == "teacher" else "student" if name == "student" else "other"
        model, display, price, batch, notes = name, name, None, False, [f"predictions read from {file}"]
        if role in _ROLES:
            model_spec = spec.models()[role]
            model, batch = model_spec.model, model_spec.batch
            found = pricing.find(pricing.key_for(model_spec))
            if found is None:
                notes.append(f"{pricing.key_for(model_spec)} is not in the pricing table: cost per request unknown")
            else:
                price, display = found[1], found[1].display_name
        outputs = read_predictions(Path(file), known_ids, price=price, batch=batch)
        runs.append(ModelRun(name=name, role=role, model=model, display_name=display, outputs=outputs,
                             basis="measured", notes=notes))
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_id = f"{spec.name}-score-{stamp}"
    with build_scorer(spec) as scorer:
        summary = build_summary(spec, items, runs, pricing=pricing, run_id=run_id, scorer=scorer, mode="offline",
                                n_resamples=args.resamples, seed=args.seed)
    if args.out:
        out = Path(args.out)
    else:
        # Two scores of one spec in the same second get two folders, never one shared.
        from distilleval.files import claim_new_directory

        out = claim_new_directory(Path("runs"), run_id) / "summary.json"
        summary = summary.model_copy(update={"run_id": out.parent.name})
    write_summary(summary, out)
    _print_report(summary, out)
    flag = args.max_error_rate is not None
    return report_failed_calls(
        summary, args.max_error_rate if flag else spec.gates.max_error_rate, command="score",
        limit_source="--max-error-rate" if flag else "gates.max_error_rate",
        next_step="complete the predictions files, or set the limit with --max-error-rate",
    )
