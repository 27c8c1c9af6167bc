"""`distilleval cost`: cost per request, per day and per month, savings and break-even.

Three sources for the token profile:
  distilleval cost SPEC                      tokens measured from the spec's rendered prompts
  distilleval cost RUN_DIR|summary.json      tokens measured by a run's real calls
  distilleval cost --model M --tokens-in N --tokens-out N [...]   explicit numbers

Several specs or runs give one table with a row per use case (teacher against student), and
``--check SLIDE.md`` compares a pasted slide table with it cell by cell.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from distilleval.commands.argument_types import non_negative_float, non_negative_int
from distilleval.commands.options import add_pricing_option

if TYPE_CHECKING:
    from distilleval.costs.use_case_table import UseCase

HELP = "Cost per request, per day and per month at given volumes, savings and break-even"


def _volumes(text: str) -> list[int]:
    try:
        values = [int(float(part.replace("_", ""))) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated request counts, found {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"volumes must be positive integers, found {text!r}")
    return values


class _ModelAction(argparse.Action):
    """Each --model starts a new row: ``[model, {flag: value}]``."""

    def __call__(self, parser, namespace, value, option_string=None):
        rows = list(getattr(namespace, self.dest) or [])
        rows.append((value, {}))
        setattr(namespace, self.dest, rows)


class _TokensAction(argparse.Action):
    """Token flags attach to the most recent --model."""

    def __call__(self, parser, namespace, value, option_string=None):
        rows = getattr(namespace, self.dest) or []
        if not rows:
            parser.error(f"{option_string} must follow a --model")
        rows[-1][1][option_string] = value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval cost`` to ``parser``."""
    parser.add_argument(
        "sources", nargs="*", metavar="SOURCE",
        help="a spec YAML, or a run directory / summary.json; several give one row per use case",
    )
    explicit = parser.add_argument_group(
        "explicit token counts",
        "--tokens-in/--tokens-out/--cached-in apply to the --model before them; "
        "a --model without its own counts reuses the previous model's",
    )
    explicit.add_argument("--model", action=_ModelAction, dest="model", default=[], metavar="MODEL",
                          help="pricing-table model id")
    for flag, what in (("--tokens-in", "input"), ("--tokens-out", "output"), ("--cached-in", "cached input")):
        explicit.add_argument(
            flag, action=_TokensAction, dest="model", type=non_negative_float, metavar="N", help=f"{what} tokens per request"
        )
    parser.add_argument("--student", metavar="MODEL", help="model the savings ratio and break-even compare against")
    parser.add_argument(
        "--also", action="append", default=[], metavar="MODEL",
        help="another teacher candidate, priced at the teacher's token profile (spec or run source)",
    )
    parser.add_argument("--volumes", type=_volumes, metavar="N,N,...", help="requests per day, e.g. 1000,100000,1000000")
    parser.add_argument("--days-per-month", type=non_negative_float, metavar="DAYS",
                        help="days in a month (default 30, or the spec's)")
    parser.add_argument("--batch", action="store_true", help="add batch-tier rows for models that have one")
    parser.add_argument("--one-time-usd", type=non_negative_float, metavar="USD",
                        help="one-time cost of the move, for break-even")
    add_pricing_option(parser, "pricing table YAML (default: the bundled 2026-02 table)")
    parser.add_argument(
        "--max-price-age-days", type=non_negative_int, default=180, metavar="DAYS",
        help="flag prices read longer than this before they were used (default 180)",
    )
    parser.add_argument("--format", choices=("md", "marp", "csv", "json", "latex"), default="md")
    parser.add_argument(
        "--check", metavar="SLIDE.md",
        help="compare the first markdown table in SLIDE.md, cell by cell, with the table these sources print: "
        "the per-use-case table (a slide whose first column is 'Use case') or one source's cost table (exit 1 on a difference)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the cost tables for the chosen token profile; returns 0."""
    from distilleval.costs.pricing import load_pricing, stale_prices
    from distilleval.costs.tables import build_cost_table, render_cost_table, stale_price_note
    from distilleval.errors import DistillevalError

    if args.sources and args.model:
        raise DistillevalError("give either specs/runs or --model flags, not both")
    if not args.sources and not args.model:
        raise DistillevalError("nothing to price: give a spec, a run directory, or --model M --tokens-in N --tokens-out N")
    if len(args.sources) > 1 or (args.check and _is_use_case_slide(Path(args.check))):
        return _use_cases(args)

    if args.model:
        pricing = load_pricing(args.pricing)
        profiles = _explicit_profiles(args)
        volumes = args.volumes or [1_000, 100_000, 1_000_000]
        days = args.days_per_month or 30.0
        student = args.student
        one_time = args.one_time_usd
        notes: list[str] = []
    else:
        source = Path(args.sources[0])
        if _is_run(source):
            context = _from_summary(source, args)
        else:
            context = _from_spec(source, args)
        profiles, pricing, volumes, days, student, one_time, notes = context

    if args.batch:
        profiles = _with_batch_rows(profiles, pricing)
    if student and student not in [p.model for p in profiles]:
        raise DistillevalError(f"--student {student!r} is not one of the priced models ({', '.join(p.model for p in profiles)})")
    table = build_cost_table(
        profiles, pricing, volumes_per_day=volumes, days_per_month=days, student_model=student, one_time_cost_usd=one_time
    )
    priced_on = _run_date(Path(args.sources[0])) if args.sources and _is_run(Path(args.sources[0])) else dt.date.today()
    stale = stale_prices(pricing, [p.model for p in profiles], today=priced_on, max_age_days=args.max_price_age_days)
    note = stale_price_note(stale, max_age_days=args.max_price_age_days, on=priced_on)
    if note:
        table.notes.append(note)
    table.notes.extend(notes)
    counted: dict[str, list[str]] = {}
    for profile in profiles:
        if profile.counted_by and profile.model not in counted.setdefault(profile.counted_by, []):
            counted[profile.counted_by].append(profile.model)
    if counted:
        table.notes.append("Tokens counted locally from the spec's rendered prompts: "
                           + "; ".join(f"{', '.join(models)} with {name}" for name, models in counted.items()) + ".")
    if args.check:
        return _check_cost_slide(table, Path(args.check))
    print(render_cost_table(table, args.format), end="")
    return 0


def _is_use_case_slide(path: Path) -> bool:
    """Whether the slide holds the per-use-case table (else the cost table one source prints)."""
    from distilleval.costs.slide_check import is_use_case_slide, read_markdown_table

    return is_use_case_slide(read_markdown_table(path))


def _check_cost_slide(table, slide_path: Path) -> int:
    """``--check`` against the cost table this command prints for one source; 1 on a difference."""
    from distilleval.costs.slide_check import check_cost_slide, read_markdown_table

    result = check_cost_slide(table, read_markdown_table(slide_path))
    return _print_check(result, slide_path, "model", [table.pricing_label])


def _run_date(path: Path) -> dt.date:
    """The day a run priced its models (its summary's ``created_at``)."""
    from distilleval.results.summary_json import read_summary

    return dt.datetime.fromisoformat(read_summary(path).created_at).date()


def _explicit_profiles(args: argparse.Namespace):
    from distilleval.costs.tables import TokenProfile
    from distilleval.errors import DistillevalError

    profiles = []
    previous: dict[str, float] = {}
    for model, counts in args.model:
        counts = {**previous, **counts} if not counts else counts
        missing = [flag for flag in ("--tokens-in", "--tokens-out") if flag not in counts]
        if missing:
            raise DistillevalError(f"--model {model}: {' and '.join(missing)} missing (put them after the --model)")
        n_in, n_out, n_cached = counts["--tokens-in"], counts["--tokens-out"], counts.get("--cached-in", 0.0)
        if n_cached > n_in:
            raise DistillevalError(f"--model {model}: --cached-in {n_cached:g} exceeds --tokens-in {n_in:g}")
        role = "student" if model == args.student else ""
        profiles.append(TokenProfile(model, n_in, n_out, n_cached, basis="projected", role=role))
        previous = counts
    return profiles


def _is_run(source: Path) -> bool:
    return source.is_dir() or source.suffix == ".json"


def _load_spec_profiles(path: Path, args: argparse.Namespace):
    """The spec, its pricing table, its items and every item's counted prompts (``SpecTokenCounts``)."""
    from distilleval.backends.tinker.token_counts import spec_token_counters
    from distilleval.costs.estimates import count_spec_tokens
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.spec.data import load_items
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(path)
    pricing = resolve_pricing(spec, args.pricing)
    items = load_items(spec)
    return spec, pricing, items, count_spec_tokens(spec, items, counters=spec_token_counters(spec))


def _spec_teacher_profile(spec, measured, model: str, notes: list[str] | None = None):
    """The teacher's token profile priced as ``model`` (the spec's cached share and batch tier apply)."""
    from distilleval.costs.prompt_caching import teacher_cache_share
    from distilleval.costs.tables import TokenProfile

    teacher = measured["teacher"]
    is_teacher = model == spec.teacher.pricing_key
    cache = teacher_cache_share(spec, None if is_teacher else model)
    if cache.dropped and notes is not None:
        notes.append(f"Prompt cache: {cache.dropped}; priced with no cached input.")
    return TokenProfile(
        model,
        teacher.input_tokens.mean,
        teacher.output_tokens.mean,
        cached_input_tokens=teacher.input_tokens.mean * cache.share,
        basis="projected",
        batch=spec.teacher.batch and is_teacher,
        role="teacher" if is_teacher else "alternative",
        counted_by=teacher.counted_by,
    )


def _spec_student_profile(spec, measured, pricing):
    from distilleval.costs.tables import TokenProfile

    student = measured["student"]
    return TokenProfile(
        pricing.key_for(spec.student), student.input_tokens.mean, student.output_tokens.mean, basis="projected",
        batch=spec.student.batch, role="student", counted_by=student.counted_by,
    )


def _spec_candidate_profile(spec, measured, pricing, candidate):
    """A prompted candidate's token profile, measured on its own rendered prompt (default: the teacher's),
    with the teacher's prompt-cache share when it is sent the teacher's rubric."""
    from distilleval.costs.prompt_caching import model_cache_share
    from distilleval.costs.tables import TokenProfile

    profile = measured[candidate.name]
    share = model_cache_share(spec, candidate.name).share
    return TokenProfile(
        pricing.key_for(candidate), profile.input_tokens.mean, profile.output_tokens.mean,
        cached_input_tokens=profile.input_tokens.mean * share, basis="projected",
        batch=candidate.batch, role="candidate", counted_by=profile.counted_by,
    )


def _from_spec(path: Path, args: argparse.Namespace):
    from distilleval.costs.estimates import projection_basis
    from distilleval.costs.pricing import checkpoint_price_note, priced_as

    spec, pricing, items, counts = _load_spec_profiles(path, args)
    measured = counts.profiles(spec)
    teacher_models = [spec.teacher.pricing_key] + list(args.also)
    notes: list[str] = [f"Tokens per request: {projection_basis(len(items))}."]
    profiles = [_spec_teacher_profile(spec, measured, model, notes) for model in teacher_models]
    profiles.append(_spec_student_profile(spec, measured, pricing))
    profiles.extend(_spec_candidate_profile(spec, measured, pricing, candidate) for candidate in spec.candidates)
    checkpoint = checkpoint_price_note(spec.student.model, priced_as(spec.student, pricing), pricing)
    if checkpoint:
        notes.append(f"The student {checkpoint}.")
    one_time = args.one_time_usd
    if one_time is None:
        from distilleval.costs.estimates import spec_one_time_cost, spec_training_projection, spec_training_rows

        # Priced as `estimate` prices it: the train split's rows one by one when it is the pool labelled.
        n_train, rows = spec_training_rows(spec, counts)
        one_time = spec_one_time_cost(
            spec, pricing, measured[spec.labeller()[0]], measured["student"], n_train=n_train, row_tokens=rows
        )
        training = spec_training_projection(spec, pricing, measured["student"], n_train=n_train, row_tokens=rows)
        if training is not None:
            notes.append(f"One-time cost: {training.describe()}.")
    volumes = args.volumes or list(spec.traffic.volumes_per_day)
    days = args.days_per_month or spec.traffic.days_per_month
    return profiles, pricing, volumes, days, args.student or pricing.key_for(spec.student), one_time, notes


def _use_cases(args: argparse.Namespace) -> int:
    """One row per spec or run; with --check, compare a slide's table with it instead of printing."""
    from distilleval.costs.use_case_table import build_use_case_table, render_use_case_table
    from distilleval.errors import DistillevalError

    single_only = [flag for flag, value in (("--also", args.also), ("--batch", args.batch), ("--student", args.student),
                                           ("--one-time-usd", args.one_time_usd)) if value]
    if single_only:
        raise DistillevalError(f"{', '.join(single_only)} apply to a single source, not to a table of use cases")
    cases: list[UseCase] = []
    days_seen: set[float] = set()
    for text in args.sources:
        source = Path(text)
        case, days = _run_use_case(source, args) if _is_run(source) else _spec_use_case(source, args)
        if any(existing.name == case.name for existing in cases):
            raise DistillevalError(f"{source}: use case {case.name!r} is given twice (one source per use case)")
        cases.append(case)
        days_seen.add(days)
    if args.days_per_month:
        days = args.days_per_month
    elif len(days_seen) == 1:
        days = days_seen.pop()
    else:
        raise DistillevalError(
            f"the sources use different month lengths ({', '.join(f'{d:g}' for d in sorted(days_seen))} days); "
            "pick one with --days-per-month"
        )
    table = build_use_case_table(
        cases, volumes_per_day=args.volumes or [100_000], days_per_month=days, max_price_age_days=args.max_price_age_days
    )
    if args.check:
        return _check_slide(table, Path(args.check))
    print(render_use_case_table(table, args.format), end="")
    return 0


def _spec_use_case(path: Path, args: argparse.Namespace) -> tuple[UseCase, float]:
    """A use case projected from the spec's rendered prompts and its (or --pricing's) table."""
    from distilleval.costs.pricing import stale_prices
    from distilleval.costs.tables import price_profile
    from distilleval.costs.use_case_table import UseCase

    spec, pricing, _items, counts = _load_spec_profiles(path, args)
    measured = counts.profiles(spec)
    teacher = price_profile(_spec_teacher_profile(spec, measured, spec.teacher.pricing_key), pricing)
    student = price_profile(_spec_student_profile(spec, measured, pricing), pricing)
    labels = {teacher.model: teacher.label, student.model: student.label}
    stale = stale_prices(pricing, list(labels), today=dt.date.today(), max_age_days=args.max_price_age_days)
    case = UseCase(spec.name, teacher, student, pricing.label, source=str(path), stale=tuple((labels[m], d) for m, d in stale))
    return case, spec.traffic.days_per_month


def _run_use_case(path: Path, args: argparse.Namespace) -> tuple[UseCase, float]:
    """A use case as a run priced it: its recorded cost per request and basis, its pricing table."""
    from distilleval.costs.pricing import table_label
    from distilleval.costs.tables import PricedModel
    from distilleval.costs.use_case_table import UseCase
    from distilleval.errors import DataError, DistillevalError
    from distilleval.results.summary_json import read_summary

    if args.pricing:
        raise DistillevalError(f"{path}: a run is shown as it was priced; --pricing applies to specs")
    summary = read_summary(path)
    priced = {}
    for role in ("teacher", "student"):
        result = next((r for r in summary.models.values() if r.role == role), None)
        if result is None or result.cost_per_request_usd is None:
            raise DataError(f"{path}: the run has no {role} cost per request")
        basis = "measured" if result.cost_basis == "measured" else "projected"
        priced[role] = PricedModel(result.model, result.display_name, result.cost_per_request_usd, basis)
    ref = summary.pricing
    label = table_label(Path(ref.path).name, ref.as_of or "unknown date", ref.sha256)
    # A summary records its table's date, not each entry's: the table's date stands for both prices.
    stale: tuple = ()
    if ref.as_of:
        as_of = dt.date.fromisoformat(ref.as_of)
        if (dt.datetime.fromisoformat(summary.created_at).date() - as_of).days > args.max_price_age_days:
            stale = tuple((priced[role].label, as_of) for role in ("teacher", "student"))
    case = UseCase(summary.spec_name, priced["teacher"], priced["student"], label, source=str(path), stale=stale)
    return case, summary.days_per_month


def _check_slide(table, slide_path: Path) -> int:
    """Print where the slide disagrees with ``table``; 1 when it does anywhere, else 0."""
    from distilleval.costs.slide_check import check_slide, read_markdown_table

    result = check_slide(table, read_markdown_table(slide_path))
    return _print_check(result, slide_path, "use case", table.pricing_labels)


def _print_check(result, slide_path: Path, row_kind: str, pricing_labels: list[str]) -> int:
    """Print what a slide check found; 1 when a cell differs or a row is unknown, else 0."""
    for difference in result.differences:
        print(difference.describe(slide_path))
    for line, name in result.unknown_rows:
        print(f"{slide_path}:{line}: {name}: no such {row_kind} among the computed rows")
    if result.unchecked_columns:
        print(f"not checked (no such column computed): {', '.join(result.unchecked_columns)}")
    if result.rows_not_on_slide:
        print(f"not on the slide: {', '.join(result.rows_not_on_slide)}")
    failed = bool(result.differences or result.unknown_rows)
    verdict = f"{len(result.differences)} of {result.cells_checked} cells differ" if failed else "the slide agrees"
    print(f"{verdict}; computed from {'; '.join(pricing_labels)}")
    return 1 if failed else 0


def _from_summary(path: Path, args: argparse.Namespace):
    from distilleval.costs.estimates import tokens_basis_note
    from distilleval.costs.pricing import load_pricing
    from distilleval.costs.tables import TokenProfile
    from distilleval.errors import DistillevalError
    from distilleval.report.sources import run_pricing_file, summary_file
    from distilleval.results.summary_json import read_summary

    summary = read_summary(path)
    # The recorded table, found as the report finds it (the run folder's copy first).
    recorded = run_pricing_file(summary, summary_file(path)) or summary.pricing.path
    pricing = load_pricing(args.pricing or recorded)
    profiles = []
    student = args.student
    teacher_profile = None
    for result in summary.models.values():
        if result.input_tokens is None or result.output_tokens is None or result.input_tokens.mean is None:
            continue
        mean_in = result.input_tokens.mean
        profile = TokenProfile(
            result.pricing_key,
            mean_in,
            result.output_tokens.mean or 0.0,
            cached_input_tokens=mean_in * result.cached_input_share,
            cache_write_tokens=mean_in * result.cache_write_share,
            basis="measured" if result.basis == "measured" else "projected",
            batch=result.batch,
            role=result.role,
        )
        if pricing.find(result.pricing_key) is None:
            continue  # local baselines are priced by CPU time, not tokens
        profiles.append(profile)
        if result.role == "teacher":
            teacher_profile = profile
        if result.role == "student" and student is None:
            student = result.pricing_key
    if not profiles:
        raise DistillevalError(f"{path}: the run has no token counts to price")
    basis_note = tokens_basis_note([
        (result.display_name, result.basis, result.input_tokens.n) for result in summary.models.values()
        if result.input_tokens is not None and result.input_tokens.mean is not None and pricing.find(result.pricing_key) is not None
    ])
    for model in args.also:
        if teacher_profile is None:
            raise DistillevalError("--also needs a teacher in the run")
        profiles.insert(1, TokenProfile(
            model, teacher_profile.input_tokens, teacher_profile.output_tokens,
            cached_input_tokens=teacher_profile.cached_input_tokens, basis=teacher_profile.basis, role="alternative",
        ))
    volumes = args.volumes or summary.volumes_per_day or [1_000, 100_000, 1_000_000]
    days = args.days_per_month or summary.days_per_month
    notes = [basis_note] if basis_note else []
    notes.extend(_error_cost_notes(summary.decision))
    return profiles, pricing, volumes, days, student, args.one_time_usd, notes


def _error_cost_notes(decision: dict | None) -> list[str]:
    """The run's recorded decision (summary.json ``decision``): totals with wrong answers priced, and the recommendation."""
    from distilleval.costs.cost_model import format_usd

    if not decision:
        return []
    notes = []
    totals = []
    for arm in decision.get("arms", []):
        total = arm.get("total_monthly_usd") or {}
        if not total:
            continue
        volume = max(total, key=int)
        point, low, high = total[volume] or (None, None, None)
        if point is not None:
            totals.append(f"{arm['name']} {format_usd(point)} [{format_usd(low)}, {format_usd(high)}] at {int(volume):,}/day")
    if totals:
        notes.append("Monthly total with wrong answers priced (decision.cost_per_error_usd; inference + errors × volume, "
                     "95% interval): " + "; ".join(totals) + ".")
    recommendation = (decision.get("recommendation") or {}).get("text")
    if recommendation:
        notes.append(recommendation)
    return notes


def _with_batch_rows(profiles, pricing):
    from dataclasses import replace

    out = []
    for profile in profiles:
        out.append(profile)
        price = pricing.price_for(profile.model)
        if price.has_batch_tier and not profile.batch:
            out.append(replace(profile, batch=True, role=(profile.role + " batch").strip()))
    return out
