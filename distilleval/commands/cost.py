"""`distilleval cost`: cost per request, per day and per month, savings and break-even.

Three sources for the token profile:
  distilleval cost SPEC                      tokens measured from the spec's rendered prompts
  distilleval cost RUN_DIR|summary.json      tokens measured by a run's real calls
  distilleval cost --model M --tokens-in N --tokens-out N [...]   explicit numbers
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distilleval.commands.argument_types import non_negative_float

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
    parser.add_argument("source", nargs="?", help="a spec YAML, or a run directory / summary.json")
    explicit = parser.add_argument_group(
        "explicit token counts",
        "--tokens-in/--tokens-out/--cached-in apply to the --model before them; "
        "a --model without its own counts reuses the previous model's",
    )
    explicit.add_argument("--model", action=_ModelAction, dest="model", default=[], help="pricing-table model id")
    for flag, what in (("--tokens-in", "input"), ("--tokens-out", "output"), ("--cached-in", "cached input")):
        explicit.add_argument(flag, action=_TokensAction, dest="model", type=non_negative_float, help=f"{what} tokens per request")
    parser.add_argument("--student", help="model the savings ratio and break-even compare against")
    parser.add_argument(
        "--also", action="append", default=[], metavar="MODEL",
        help="another teacher candidate, priced at the teacher's token profile (spec or run source)",
    )
    parser.add_argument("--volumes", type=_volumes, help="requests per day, e.g. 1000,100000,1000000")
    parser.add_argument("--days-per-month", type=non_negative_float, help="days in a month (default 30, or the spec's)")
    parser.add_argument("--batch", action="store_true", help="add batch-tier rows for models that have one")
    parser.add_argument("--one-time-usd", type=non_negative_float, help="one-time cost of the move, for break-even")
    parser.add_argument("--pricing", help="pricing table YAML (default: the bundled 2026-02 table)")
    parser.add_argument("--format", choices=("md", "csv", "json", "latex"), default="md")


def run(args: argparse.Namespace) -> int:
    """Print the cost tables for the chosen token profile; returns 0."""
    from distilleval.costs.pricing import load_pricing
    from distilleval.costs.tables import build_cost_table, render_cost_table
    from distilleval.errors import DistillevalError

    if args.source and args.model:
        raise DistillevalError("give either a spec/run or --model flags, not both")
    if not args.source and not args.model:
        raise DistillevalError("nothing to price: give a spec, a run directory, or --model M --tokens-in N --tokens-out N")

    if args.model:
        pricing = load_pricing(args.pricing)
        profiles = _explicit_profiles(args)
        volumes = args.volumes or [1_000, 100_000, 1_000_000]
        days = args.days_per_month or 30.0
        student = args.student
        one_time = args.one_time_usd
    else:
        source = Path(args.source)
        if source.is_dir() or source.suffix == ".json":
            context = _from_summary(source, args)
        else:
            context = _from_spec(source, args)
        profiles, pricing, volumes, days, student, one_time = context

    if args.batch:
        profiles = _with_batch_rows(profiles, pricing)
    if student and student not in [p.model for p in profiles]:
        raise DistillevalError(f"--student {student!r} is not one of the priced models ({', '.join(p.model for p in profiles)})")
    table = build_cost_table(
        profiles, pricing, volumes_per_day=volumes, days_per_month=days, student_model=student, one_time_cost_usd=one_time
    )
    print(render_cost_table(table, args.format), end="")
    return 0


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


def _from_spec(path: Path, args: argparse.Namespace):
    from distilleval.costs.estimates import measure_spec
    from distilleval.costs.pricing import load_pricing
    from distilleval.costs.tables import TokenProfile
    from distilleval.spec.data import load_items, split_items
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(path)
    pricing = load_pricing(args.pricing or (spec.resolve(spec.pricing) if spec.pricing else None))
    items = load_items(spec)
    profiles_by_role = measure_spec(spec, items)
    teacher, student = profiles_by_role["teacher"], profiles_by_role["student"]
    cached_fraction = spec.traffic.cached_input_fraction
    teacher_models = [spec.teacher.pricing_key] + list(args.also)
    profiles = [
        TokenProfile(
            model,
            teacher.input_tokens.mean,
            teacher.output_tokens.mean,
            cached_input_tokens=teacher.input_tokens.mean * cached_fraction,
            basis="projected",
            batch=spec.teacher.batch and model == spec.teacher.pricing_key,
            role="teacher" if model == spec.teacher.pricing_key else "alternative",
        )
        for model in teacher_models
    ]
    profiles.append(
        TokenProfile(spec.student.pricing_key, student.input_tokens.mean, student.output_tokens.mean, basis="projected", role="student")
    )
    one_time = args.one_time_usd
    if one_time is None:
        from distilleval.costs.estimates import spec_one_time_cost

        one_time = spec_one_time_cost(spec, pricing, teacher, student, n_train=len(split_items(items, "train")))
    volumes = args.volumes or list(spec.traffic.volumes_per_day)
    days = args.days_per_month or spec.traffic.days_per_month
    return profiles, pricing, volumes, days, args.student or spec.student.pricing_key, one_time


def _from_summary(path: Path, args: argparse.Namespace):
    from distilleval.costs.pricing import load_pricing
    from distilleval.costs.tables import TokenProfile
    from distilleval.errors import DistillevalError
    from distilleval.results.summary_json import read_summary

    summary = read_summary(path)
    pricing = load_pricing(args.pricing or summary.pricing.path)
    profiles = []
    student = args.student
    teacher_profile = None
    for result in summary.models.values():
        if result.input_tokens is None or result.output_tokens is None or result.input_tokens.mean is None:
            continue
        profile = TokenProfile(
            result.model,
            result.input_tokens.mean,
            result.output_tokens.mean or 0.0,
            basis="measured" if result.basis == "measured" else "projected",
            role=result.role,
        )
        if pricing.find(result.model) is None:
            continue  # local baselines are priced by CPU time, not tokens
        profiles.append(profile)
        if result.role == "teacher":
            teacher_profile = profile
        if result.role == "student" and student is None:
            student = result.model
    if not profiles:
        raise DistillevalError(f"{path}: the run has no token counts to price")
    for model in args.also:
        if teacher_profile is None:
            raise DistillevalError("--also needs a teacher in the run")
        profiles.insert(1, TokenProfile(model, teacher_profile.input_tokens, teacher_profile.output_tokens, basis=teacher_profile.basis, role="alternative"))
    volumes = args.volumes or summary.volumes_per_day or [1_000, 100_000, 1_000_000]
    days = args.days_per_month or summary.days_per_month
    return profiles, pricing, volumes, days, student, args.one_time_usd


def _with_batch_rows(profiles, pricing):
    from dataclasses import replace

    out = []
    for profile in profiles:
        out.append(profile)
        price = pricing.price_for(profile.model)
        if price.has_batch_tier and not profile.batch:
            out.append(replace(profile, batch=True, role=(profile.role + " batch").strip()))
    return out
