"""The slide tables of a report, as plain data every output format renders.

Each table has a ``Basis`` column (or a note) saying whether its figures were measured in the
run, projected from the pricing table, or quoted as a reference; cost tables name the pricing
table and its date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from distilleval.costs import cost_model
from distilleval.costs.cost_model import format_usd
from distilleval.costs.pricing import checkpoint_price_note
from distilleval.report.figures import Figures, ModelRow
from distilleval.results.summary_json import Distribution, ModelResult

DASH = "—"


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown and the raw value behind it (for csv/json)."""

    text: str
    value: float | int | str | bool | None = None


@dataclass
class Table:
    """One slide table."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pct(value: float | None, digits: int = 1) -> Cell:
    """A share in [0, 1] shown as a percentage."""
    return Cell(DASH) if value is None else Cell(f"{value * 100:.{digits}f}%", value)


def signed_points(share: float | None) -> str:
    """A difference of shares in percentage points, signed, one decimal: ``-0.0375`` -> ``-3.8``;
    a dash when it is unknown (no paired items).

    Float noise is dropped and halves round away from zero, so one difference computed two ways
    (b − a of the means, or the mean of b − a: -0.037499999… and -0.0375) prints one way.
    """
    if share is None:
        return DASH
    value = round(share * 100, 9)
    tenths = math.floor(abs(value) * 10 + 0.5)
    return f"{'-' if value < 0 and tenths else '+'}{tenths / 10:.1f}"


def points(value: float | None) -> Cell:
    """A difference of shares shown in percentage points, signed."""
    return Cell(DASH) if value is None else Cell(f"{signed_points(value)} pts", value)


def usd(value: float | None) -> Cell:
    """A dollar cell; a dash for None."""
    return Cell(DASH) if value is None else Cell(format_usd(value), value)


def times(value: float | None) -> Cell:
    """A ratio cell such as ``12.5×``; ``∞ (free)`` for infinity, a dash for None."""
    if value is None:
        return Cell(DASH)
    if math.isinf(value):
        return Cell("∞ (free)", value)
    return Cell(f"{value:,.1f}×" if value < 100 else f"{value:,.0f}×", value)


def count(value: float | None, unit: str = "") -> Cell:
    """A whole-number cell with an optional unit; sub-10 ms latencies keep two significant digits."""
    if value is None:
        return Cell(DASH)
    if unit == " ms" and 0 < value < 10:
        return Cell(f"{value:.2g}{unit}", value)  # sub-10 ms latencies (local models) keep two digits
    return Cell(f"{value:,.0f}{unit}", value)


def days(value: float | None, *, never: str = "never") -> Cell:
    """A duration cell in minutes, hours or days; ``never`` for None."""
    if value is None:
        return Cell(never)
    if value < 1 / 24:
        return Cell(f"{max(value * 1440, 1):.0f} min", value)
    if value < 1:
        return Cell(f"{value * 24:.1f} hours", value)
    return Cell(f"{value:,.1f} days" if value < 100 else f"{value:,.0f} days", value)


def _mean(dist: Distribution | None) -> float | None:
    return dist.mean if dist is not None else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _total_tokens(row: ModelRow) -> float | None:
    i, o = _mean(row.result.input_tokens), _mean(row.result.output_tokens)
    if i is None:
        return None
    return i + (o or 0.0)


def error_cell(result) -> Cell:
    """Failed calls with their rate and kinds, e.g. ``80 (40.0%: rate_limited 80)``."""
    failed = result.failed_calls
    if not failed:
        return Cell("0", 0)
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(result.errors.items(), key=lambda kv: (-kv[1], kv[0])))
    # Calls lost with a whole batch: the batch's reason, which no single item's message gives.
    reasons = "".join(f"; {reason} ({count:,})" for reason, count in sorted(result.error_reasons.items(),
                                                                              key=lambda kv: (-kv[1], kv[0])))
    return Cell(f"{failed:,} ({result.error_rate:.1%}: {kinds}{reasons})", failed)


def accuracy_table(f: Figures) -> Table:
    """The primary metric of every model with its interval, scored and failed counts."""
    metric = f.summary.primary_metric
    metric_title = metric.replace("_", " ").capitalize()
    table = Table("accuracy", f"{metric_title}: teacher vs student vs baselines",
                  ["Model", metric_title, "95% CI", "Scored", "Errors", "Invalid", "Basis"])
    methods = set()
    for row in f.models:
        result = row.result
        m = result.metric
        ci = Cell(DASH)
        if m is not None and m.ci_low is not None and m.ci_high is not None:
            ci = Cell(f"{m.ci_low * 100:.1f}–{m.ci_high * 100:.1f}%", f"{m.ci_low:.6f},{m.ci_high:.6f}")
            if m.ci_method:
                methods.add(m.ci_method)
        table.rows.append([
            Cell(row.label, row.key), pct(m.value if m else None), ci, Cell(f"{result.n_scored:,}", result.n_scored),
            error_cell(result), pct(result.invalid_rate), Cell(result.basis, result.basis),
        ])
    # Say how the student was trained only when this run trained it: an eval of a given
    # checkpoint or a provider-hosted model knows nothing about its training.
    if f.summary.label_source == "reference":
        trained = "; gold (reference) labels stood in for the teacher's labels; models marked projected were not called"
    elif f.summary.student_training:
        trained = f"; student {f.summary.student_training}"
    else:
        trained = ""
    table.notes.append(f"Measured in run {f.summary.run_id} on {f.summary.n_items:,} eval items{trained}.")
    if any(row.result.failed_calls for row in f.models):
        table.notes.append(f"A failed call is missing data, never a wrong answer: each {metric.replace('_', ' ')} is over "
                           "the items the model answered (Scored); Errors counts the failed calls by kind.")
    if f.every_call_cached:
        table.notes.append("Every call of this run came from the response cache: $0 spent; token, latency and cost "
                           "figures are those of the original calls.")
    for row in f.models:
        table.notes.extend(_max_tokens_note(row))
    if methods:
        confidence = next((r.result.metric.confidence for r in f.models if r.result.metric), 0.95)
        table.notes.append(f"Intervals: {', '.join(sorted(methods))}, {confidence:.0%}.")
    return table


def _max_tokens_note(row: ModelRow) -> list[str]:
    """What reaching max_tokens did to a model's answers; raising it is advised only when a cut
    answer is not a valid output (a complete label that reached the limit lost nothing)."""
    cut, invalid = row.result.truncated, row.result.truncated_invalid
    if not cut:
        return []
    said = f"{row.label}: {cut:,} of {row.result.n:,} answers were cut at max_tokens (reached max_tokens) and are judged on their content"
    if invalid is None:  # a summary that did not count them
        return [f"{said}. Where such an answer is not a valid output, raise max_tokens for this model."]
    if not invalid:
        return [f"{said}: each is a valid output, scored as such."]
    return [f"{said}: {invalid:,} of them are not a valid output (counted as invalid), the rest are scored as given. "
            "Raise max_tokens for this model."]


def baseline_notes(f: Figures) -> str:
    """How the student was compared with the baselines: test, correction, and each interval's level."""
    from distilleval.report.baseline_family import correction_text

    comparisons = f.baseline_comparisons
    methods = "; ".join(sorted({c.paired.method if c.paired.p_value is not None else f"{c.method}, {c.paired.method}"
                                for c in comparisons}))
    levels = ", ".join(f"{c.name} {c.interval_confidence * 100:.4g}%" for c in comparisons)
    return (f"{methods}; {correction_text(comparisons, f.alpha)}; each interval at its comparison's level ({levels}), "
            "so it agrees with the decision; the student is compared with every baseline, never with the best one "
            "picked on these items")


def paired_table(f: Figures) -> Table:
    """The paired comparisons on the same items: difference, interval, test and discordant pairs."""
    comparisons = list(f.summary.comparisons) or ([f.comparison] if f.comparison is not None else [])
    against_teacher = bool(comparisons) and all(f.summary.models.get(c.a) is not None and f.summary.models[c.a].role == "teacher" for c in comparisons)
    if against_teacher:
        title, discordant_header = "Paired comparison with the teacher (same items)", "Teacher-only / other-only right"
    else:
        title, discordant_header = "Paired comparison (same items; B − A)", "A-only / B-only right"
    table = Table("paired", title, ["Comparison", "Difference", "95% CI", "p", discordant_header, "Agreement", "Basis"])
    names = {row.key: row.result.display_name for row in f.models}
    for comparison in comparisons:
        ci = Cell(DASH)
        if comparison.ci_low is not None and comparison.ci_high is not None:
            ci = Cell(f"{signed_points(comparison.ci_low)} to {signed_points(comparison.ci_high)} pts",
                      f"{comparison.ci_low:.6f},{comparison.ci_high:.6f}")
        p = comparison.p_value  # the p of the test the interval inverts, never one that can disagree with it
        discordant = comparison.discordant
        table.rows.append([
            Cell(f"{names.get(comparison.b, comparison.b)} − {names.get(comparison.a, comparison.a)}", f"{comparison.b}-{comparison.a}"),
            points(comparison.difference), ci, Cell(DASH) if p is None else Cell(f"{p:.3g}", p),
            Cell(f"{discordant.get('a_only', 0)} / {discordant.get('b_only', 0)}") if discordant else Cell(DASH),
            pct(comparison.agreement), Cell("measured", "measured"),
        ])
        if comparison.dropped_failed:
            table.notes.append(
                f"{names.get(comparison.b, comparison.b)} − {names.get(comparison.a, comparison.a)}: on the "
                f"{comparison.n_paired:,} items both answered; {comparison.dropped_failed:,} dropped because a call failed.")
    if f.baseline_comparisons and f.student is not None:
        if against_teacher:
            table.title, table.columns[4] = "Paired comparisons (same items; B − A)", "A-only / B-only right"
        for compared in f.baseline_comparisons:
            paired = compared.paired
            ci = Cell(DASH)
            if paired.ci_low is not None and paired.ci_high is not None:
                ci = Cell(f"{signed_points(paired.ci_low)} to {signed_points(paired.ci_high)} pts",
                          f"{paired.ci_low:.6f},{paired.ci_high:.6f}")
            discordant = Cell(f"{paired.losses} / {paired.gains}") if paired.p_value is not None else Cell(DASH)
            table.rows.append([
                Cell(f"{f.student.result.display_name} − {compared.name} (baseline)", f"{f.student.key}-{compared.key}"),
                points(paired.difference), ci, Cell(f"{compared.p_value:.3g}", compared.p_value),
                discordant, Cell(DASH), Cell("measured", "measured"),
            ])
        table.notes.append(
            f"Student vs each baseline: {baseline_notes(f)}; computed by the report from the per-item scores."
        )
    for method in sorted({c.ci_method for c in comparisons if c.ci_method}):
        table.notes.append(f"Difference intervals: {method}.")
    p_methods = sorted({c.p_method for c in comparisons if c.p_value is not None and c.p_method})
    if p_methods or f.baseline_comparisons:
        named = f" ({'; '.join(p_methods)} for the comparisons with the teacher or between runs)" if p_methods else ""
        table.notes.append(f"Each row's p is the two-sided p of the test its interval inverts{named}, so the interval "
                           "excludes 0 exactly when p is below one minus its level.")
    if any(compared.paired.p_value is None for compared in f.baseline_comparisons):
        table.notes.append("Baseline rows with partial-credit scores: p from the paired sign-flip test (the decision's), "
                           "beside the interval that inverts that same test, so they agree.")
    if not f.summary.comparisons and comparisons:
        table.notes.append("Computed by the report from the per-item scores (the summary recorded no comparison).")
    ni = f.non_inferiority
    if ni is not None:
        verdict = ni.decision or ("non-inferior" if ni.non_inferior else "not shown non-inferior")
        table.notes.append(
            f"Non-inferiority (student ≥ teacher − {ni.margin * 100:g} pts, margin from {f.margin_source}): difference "
            f"{signed_points(ni.difference)} pts, one-sided {1 - ni.alpha:.0%} lower bound {signed_points(ni.lower_bound)} pts → {verdict} ({ni.method})."
        )
    return table


def tokens_table(f: Figures) -> Table:
    """Input and output tokens per request and the compression against the teacher."""
    table = Table("tokens", "Tokens per request and compression",
                  ["Model", "Input tokens", "Output tokens", "Total", "Compression vs teacher", "Basis"])
    teacher_total = _total_tokens(f.teacher) if f.teacher else None
    for row in f.models:
        total = _total_tokens(row)
        compression = _ratio(teacher_total, total)
        table.rows.append([
            Cell(row.label, row.key), count(_mean(row.result.input_tokens)), count(_mean(row.result.output_tokens)),
            count(total), times(compression) if row is not f.teacher else Cell("1.0×", 1.0),
            Cell(row.result.basis if total is not None else DASH, row.result.basis if total is not None else None),
        ])
    by_source: dict[str, list[str]] = {}
    for row in f.models:
        if _total_tokens(row) is not None:
            by_source.setdefault(_counted_by(row.result), []).append(row.label)
    counted = "; ".join(f"{', '.join(labels)}: {source}" for source, labels in by_source.items())
    table.notes.append(f"Mean tokens per request ({counted}); compression = teacher total ÷ model total.")
    if f.token_estimates:
        pairs = "; ".join(
            f"{e.label} {e.estimated_input_mean:,.1f} estimated vs {e.measured_input_mean:,.1f} measured ({e.error:+.1%}, "
            f"counted with {e.counted_by} over the run's {e.items:,} eval items)" for e in f.token_estimates)
        table.notes.append(f"Input tokens per call, estimated from the spec's prompts before the run against measured: {pairs}. "
                           "`distilleval estimate SPEC --from-run RUN` calibrates the estimate by this run.")
    return table


def all_calls_from_cache(result: ModelResult) -> bool:
    """Every answered call of this model came from the response cache (nothing was paid for)."""
    answered = result.n - sum(result.errors.values())
    return result.basis == "measured" and result.cache_hits > 0 and result.cache_hits >= answered


def _counted_by(result: ModelResult) -> str:
    if result.tokens_counted_by:
        return f"counted locally with {result.tokens_counted_by}"
    if all_calls_from_cache(result):
        return "counted by the provider when the calls were first made; every call of this run came from the response cache"
    if result.basis == "measured":
        return "counted by the provider in this run"
    return "as recorded in the summary"


def _latency_rows(result: ModelResult) -> list[tuple[str, str, Distribution]]:
    """(kind, how it was measured, figures) for each way ``result``'s latency was measured."""
    figures = result.latency
    rows = []
    if result.latency_ms is not None and result.latency_ms.n:
        how = "under load"
        if figures is not None and figures.concurrency:
            how += f" at concurrency {figures.concurrency}"
        if figures is not None and figures.client_bound:
            how += " (client-bound)"
        rows.append(("load", how, result.latency_ms))
    if figures is not None and figures.unloaded_ms is not None and figures.unloaded_ms.n:
        how = f"unloaded (probe at concurrency {figures.unloaded_concurrency})"
        rows.append(("unloaded", how + (" (client-bound)" if figures.unloaded_client_bound else ""), figures.unloaded_ms))
    if figures is not None and figures.original_ms is not None and figures.original_ms.n:
        rows.append(("original", "original calls, served from the cache", figures.original_ms))
    return rows


def latency_table(f: Figures) -> Table:
    """p50 / p95 latency per model and way of measuring it, and the speed-up against the teacher
    measured the same way."""
    table = Table("latency", "Latency per request",
                  ["Model", "Measured", "p50", "p95", "Speed-up p50", "Speed-up p95", "Calls timed", "Basis"])
    teacher_rows = {kind: dist for kind, _, dist in _latency_rows(f.teacher.result)} if f.teacher else {}
    client_bound = []
    for row in f.models:
        for kind, how, latency in _latency_rows(row.result):
            teacher = teacher_rows.get(kind)
            speed50 = _ratio(teacher.p50 if teacher else None, latency.p50)
            speed95 = _ratio(teacher.p95 if teacher else None, latency.p95)
            basis = "measured earlier" if kind == "original" else "measured"
            table.rows.append([
                Cell(row.label, row.key), Cell(how, kind), count(latency.p50, " ms"), count(latency.p95, " ms"),
                times(speed50), times(speed95), Cell(f"{latency.n:,}", latency.n), Cell(basis, basis),
            ])
        figures = row.result.latency
        if figures is not None and figures.client_bound:
            client_bound.append(f"{row.label} under load: {figures.client_bound_reason}")
        if figures is not None and figures.unloaded_client_bound:
            client_bound.append(f"{row.label} unloaded: {figures.unloaded_client_bound_reason}")
    table.notes.append("Per call, request sent → response received; under load: the run's own calls at its concurrency, "
                       "cache hits excluded.")
    if client_bound:
        table.notes.append(
            "Client-bound (the client's event loop, not the model, set these figures; no gate judges them): "
            + "; ".join(client_bound)
            + ". For a judgement, measure unloaded latency: --latency-probe N@K or the spec's latency: {probe_calls, concurrency}."
        )
    if any(r[1].value == "unloaded" for r in table.rows):
        table.notes.append("Unloaded: fresh calls made after the run at low concurrency, cache bypassed and paid for; "
                           "latency gates judge these figures.")
    if any(r[1].value == "original" for r in table.rows):
        table.notes.append("Original calls: measured when the cached answers were first made (an earlier run, or the "
                           "validate step of distilleval run), not in this run.")
    return table


def _price_text(row: ModelRow, f: Figures) -> tuple[str, str, str]:
    pricing = f.inputs.pricing
    if pricing is None:
        return row.result.model, DASH, DASH
    found = pricing.find(row.result.pricing_key)
    if found is None:
        return row.result.model, DASH, DASH
    key, price = found
    if price.cpu_usd_per_hour is not None:
        return key, f"CPU {format_usd(price.cpu_usd_per_hour)}/h", DASH
    return key, format_usd(price.input_per_mtok_usd), format_usd(price.output_per_mtok_usd)


def _cache_rates_text(row: ModelRow, f: Figures) -> str:
    """``, priced at ...`` naming the rate the cached tokens were really priced at ('' without the table)."""
    found = f.inputs.pricing.find(row.result.pricing_key) if f.inputs.pricing is not None else None
    if found is None:
        return ""
    key, price = found
    return ", " + cost_model.cache_rates_applied(price, key, batch=row.result.batch,
                                                 writes=row.result.cache_write_share > 0)


def _cost_basis_cell(result: ModelResult) -> Cell:
    """The cost's basis; a run served wholly from the cache measured nothing itself."""
    if result.cost_basis == "measured" and all_calls_from_cache(result):
        return Cell("measured earlier (cached calls)", "measured_earlier")
    return Cell(result.cost_basis, result.cost_basis)


def cost_per_request_table(f: Figures) -> Table:
    """Each model's prices per 1M tokens and its cost per request."""
    table = Table("cost_per_request", "Cost per request",
                  ["Model", "Priced as", "Input $/1M tok", "Output $/1M tok", "Cost/request", "Spent in this run", "Basis"])
    for row in f.models:
        priced_as, price_in, price_out = _price_text(row, f)
        spent = usd(row.result.spent_usd) if row.result.basis == "measured" else Cell(DASH)
        table.rows.append([
            Cell(row.label, row.key), Cell(priced_as, priced_as), Cell(price_in), Cell(price_out),
            usd(row.cost_per_request_usd), spent, _cost_basis_cell(row.result),
        ])
    table.notes.append(f"Mean tokens × prices from pricing table {f.pricing_label}.")
    if f.tokens_basis:
        table.notes.append(f.tokens_basis)
    if f.inputs.pricing is not None:
        for row in f.models:
            note = checkpoint_price_note(row.result.model, row.result.priced_as, f.inputs.pricing)
            if note:
                table.notes.append(f"The {row.result.role or 'model'} {note}.")
    for row in f.models:
        share, result = row.result.cached_input_share, row.result
        if share > 0:
            if all_calls_from_cache(result):
                source = "measured when the cached calls were first made"
            elif result.basis == "measured":
                source = "measured in this run"
            else:
                source = "spec traffic.cached_input_fraction"
            writes = f", {result.cache_write_share:.0%} written to it" if result.cache_write_share > 0 else ""
            table.notes.append(f"{row.label}: {share:.0%} of input tokens read from the prompt cache{writes} "
                               f"({source}){_cache_rates_text(row, f)}.")
    cached = [row.label for row in f.models if all_calls_from_cache(row.result)]
    if cached:
        table.notes.append(f"{', '.join(cached)}: every call of this run came from the response cache, $0 spent; "
                           "cost per request prices the original calls' tokens.")
    return table


def cost_at_volume_table(f: Figures) -> Table:
    """Teacher and student cost per day and per month at each of the spec's volumes."""
    table = Table("cost_at_volume", "Cost at the spec's daily volumes",
                  ["Requests/day", "Teacher/day", "Teacher/month", "Student/day", "Student/month", "Saving/month", "Basis"])
    for v in f.volume_rows:
        table.rows.append([
            Cell(f"{v.requests_per_day:,}", v.requests_per_day), usd(v.teacher_day_usd), usd(v.teacher_month_usd),
            usd(v.student_day_usd), usd(v.student_month_usd), usd(v.saving_month_usd), Cell("projected", "projected"),
        ])
    table.notes.append(f"Projected: cost/request × volume; month = {f.days_per_month:g} days; pricing table {f.pricing_label}.")
    return table


def savings_table(f: Figures) -> Table:
    """Cost ratio, saving per request and saving per month at each volume."""
    table = Table("savings", "Savings from the student", ["Figure", "Value", "Basis"])
    table.rows.append([Cell("Cost ratio (teacher ÷ student per request)"), times(f.savings_ratio), Cell("projected", "projected")])
    table.rows.append([Cell("Saving per request"), usd(f.saving_per_request_usd), Cell("projected", "projected")])
    for v in f.volume_rows:
        table.rows.append([Cell(f"Saving per month at {v.requests_per_day:,}/day"), usd(v.saving_month_usd),
                           Cell("projected", "projected")])
    table.notes.append(f"Pricing table {f.pricing_label}; month = {f.days_per_month:g} days.")
    cheapest, teacher_cost = f.cheapest_teacher, f.teacher.cost_per_request_usd if f.teacher else None
    if cheapest is not None and teacher_cost is not None and cheapest.cost_per_request_usd < teacher_cost * (1 - 1e-9):
        table.notes.append(f"Against the teacher as {'run' if f.teacher.result.basis == 'measured' else 'projected'}; "  # type: ignore[union-attr]
                           f"run at its cheapest ({cheapest.label}, {format_usd(cheapest.cost_per_request_usd)}/request) "
                           "the teacher is compared in the teacher-configuration table, and the verdict uses that.")
    return table


def break_even_table(f: Figures) -> Table:
    """The one-time cost of the move and how long the savings take to pay it back."""
    table = Table("break_even", "One-time cost and break-even", ["Item", "Value", "Basis"])
    one = f.one_time
    if one is None:
        table.rows.append([Cell("One-time cost"), Cell("not computed"), Cell(DASH)])
        table.notes.extend(n for n in f.notes if "one-time" in n or "break-even" in n)
        return table
    teacher_cost = f.teacher.cost_per_request_usd if f.teacher else None
    table.rows.extend([
        [Cell(f"Teacher labelling: {one.labelled_examples:,} examples × {format_usd(teacher_cost or 0)}"),
         usd(one.labelling_usd), Cell("projected", "projected")],
        [Cell(f"Training: {one.training_tokens_per_epoch:,.0f} tokens × {one.epochs} epochs × "
              f"{format_usd(one.training_price_per_mtok_usd)}/1M"
              + (f" at {one.training_price_name}" if one.training_price_name else "")),
         usd(one.training_usd), Cell("projected", "projected")],
        [Cell("Engineering (spec training.engineering_cost_usd)"), usd(one.engineering_usd), Cell("reference", "reference")],
        [Cell("One-time total"), usd(one.total_usd), Cell("projected", "projected")],
    ])
    for v in f.volume_rows:
        table.rows.append([Cell(f"Break-even at {v.requests_per_day:,}/day"), days(v.break_even_days),
                           Cell("projected", "projected")])
    table.notes.append(
        f"Labelled examples from {one.labelled_examples_source}; training tokens: {one.tokens_basis}; "
        f"pricing table {f.pricing_label}."
    )
    if one.recipe:
        table.notes.append(one.recipe[0].upper() + one.recipe[1:] + ".")
    if one.engineering_usd == 0:
        table.notes.append("Break-even ignores engineering time: training.engineering_cost_usd is $0 in the spec; "
                           "set it to the cost of building and maintaining the fine-tune.")
    return table


def per_class_table(f: Figures) -> Table:
    """Precision, recall (with interval) and F1 per class, worst F1 first."""
    per_class = f.per_class
    if per_class is None:
        return Table("per_class", "Per-class results", ["Class"])
    with_teacher = bool(per_class.teacher_recall)
    columns = ["Class", "Support", "Precision", "Recall", "Recall 95% CI", "F1"]
    columns += ["Teacher recall"] if with_teacher else []
    table = Table("per_class", f"Per-class results: {per_class.model.label} (worst F1 first)", columns + ["Basis"])
    ranked = sorted(per_class.classes, key=lambda r: (r.support == 0, r.f1, -r.support, r.label))
    for r in ranked:
        ci = Cell(DASH)
        if r.recall_low is not None and r.recall_high is not None:
            ci = Cell(f"{r.recall_low * 100:.0f}–{r.recall_high * 100:.0f}%", f"{r.recall_low:.6f},{r.recall_high:.6f}")
        row = [Cell(r.label, r.label), Cell(f"{r.support:,}", r.support), pct(r.precision), pct(r.recall), ci,
               Cell(f"{r.f1:.3f}", r.f1)]
        if with_teacher:
            row.append(pct(per_class.teacher_recall.get(r.label)))
        table.rows.append(row + [Cell("measured", "measured")])
    table.notes.append(
        f"{per_class.model.label} on {sum(r.support for r in per_class.classes):,} eval items; precision is a dash for a "
        "class never predicted; recall intervals: Clopper-Pearson (exact binomial), 95%."
    )
    if per_class.worst:
        table.notes.append("Worst classes: " + ", ".join(f"{r.label} (F1 {r.f1:.2f})" for r in per_class.worst) + ".")
    return table


def confusions_table(f: Figures) -> Table:
    """The wrong (gold → predicted) pairs with the most items."""
    per_class = f.per_class
    if per_class is None:
        return Table("confusions", "Costliest confusions", ["Gold"])
    table = Table("confusions", f"Costliest confusions: {per_class.model.label}",
                  ["Gold", "Predicted", "Items", "Share of gold class", "Basis"])
    for pair in per_class.confusions:
        table.rows.append([Cell(pair.gold, pair.gold), Cell(pair.predicted, pair.predicted), Cell(f"{pair.count:,}", pair.count),
                           pct(pair.share_of_gold), Cell("measured", "measured")])
    if table.rows:
        table.notes.append("Each wrong answer costs one item; INVALID is an output outside the label set.")
    return table


def teacher_options_table(f: Figures) -> Table:
    """The student against each honest way of running the teacher: list, prompt caching, batch tier."""
    top = max(f.volumes_per_day) if f.volumes_per_day else None
    columns = ["Teacher configuration", "Cost/request"]
    if top is not None:
        columns.append(f"Monthly @ {top:,}/day")
    columns += ["× student"] + [f"Break-even @ {v:,}/day" for v in f.volumes_per_day] + ["Basis"]
    table = Table("teacher_options", "The student against each way of running the teacher", columns)
    cheapest = f.cheapest_teacher
    student_cost = f.student.cost_per_request_usd if f.student else None
    for option in f.teacher_options:
        label = option.label + (" (cheapest)" if option is cheapest and len(f.teacher_options) > 1 else "")
        row = [Cell(label, option.key), usd(option.cost_per_request_usd)]
        if top is not None:
            row.append(usd(cost_model.monthly_cost_usd(option.cost_per_request_usd, top, f.days_per_month)))
        ratio = None if student_cost is None else cost_model.savings_ratio(option.cost_per_request_usd, student_cost)
        row.append(times(ratio))
        for volume in f.volumes_per_day:
            row.append(days(f.option_break_even_days(option, volume)) if f.one_time is not None else Cell("not computed"))
        row.append(Cell("projected", "projected"))
        table.rows.append(row)
    if not table.rows:
        return table
    teacher = f.teacher.result if f.teacher else None
    if teacher is not None and teacher.input_tokens is not None and teacher.input_tokens.mean is not None:
        out = teacher.output_tokens.mean if teacher.output_tokens and teacher.output_tokens.mean is not None else 0.0
        table.notes.append(
            f"Each configuration prices the teacher's mean request ({teacher.input_tokens.mean:,.0f} input, "
            f"{out:,.0f} output tokens, {teacher.basis}) with pricing table {f.pricing_label}; month = {f.days_per_month:g} days."
        )
    if not any(option.key == "prompt_cache" for option in f.teacher_options):
        table.notes.append("No prompt-caching row: no cached share was measured and the spec's "
                           "traffic.cached_input_fraction is 0 (or the model has no cached-input price).")
    if not any(option.key == "batch" for option in f.teacher_options):
        table.notes.append("No batch-tier row: set traffic.batch_eligible when requests can wait for the provider's "
                           "batch tier (or the model has no batch price).")
    return table


def cascades_table(f: Figures) -> Table:
    """Each cascade at its chosen threshold: measured on the test items, beside the guarantee it was chosen under."""
    table = Table("cascades", "Cascades: the first model answers when confident, the rest go to the fallback",
                  ["Cascade", "Threshold", "Test accuracy", "95% CI", "Deferred", "Cost / request", "Guarantee",
                   "Calibration / test items"])
    for cascade in f.summary.cascades:
        chosen = cascade.chosen
        if cascade.unavailable or chosen is None:
            table.rows.append([Cell(cascade.name, cascade.name)] + [Cell(DASH)] * 5
                              + [Cell("not computed", False), Cell(DASH)])
            table.notes.append(f"{cascade.name}: not computed: {cascade.unavailable or 'no items'}.")
            continue
        interval = chosen.test_accuracy_interval
        ci = Cell(f"{pct(interval[0]).text} to {pct(interval[1]).text}", f"{interval[0]:.6f},{interval[1]:.6f}") \
            if interval else Cell(DASH)
        threshold = Cell("none: all to fallback" if chosen.threshold is None else f"{chosen.threshold:g}", chosen.threshold)
        table.rows.append([
            Cell(cascade.name, cascade.name), threshold, pct(chosen.test_accuracy), ci, pct(chosen.deferral_rate),
            usd(chosen.cost_per_request_usd), Cell("met" if chosen.guarantee_met else "not met", chosen.guarantee_met),
            Cell(f"{chosen.calibration_items:,} / {chosen.test_items:,}"),
        ])
        if chosen.guarantee_met:
            table.notes.append(f"{cascade.name}: {chosen.guarantee} ({chosen.method}); confidence: "
                               f"{cascade.confidence_basis}.")
        else:
            table.notes.append(f"{cascade.name}: no threshold meets the guarantee ({chosen.guarantee}) on "
                               f"{chosen.calibration_items:,} calibration items: every request goes to {cascade.fallback}.")
    return table


def cascade_curve_table(f: Figures) -> Table:
    """Each cascade's curve over every eval item both models answered, one row per threshold."""
    table = Table("cascade_curve", "Cascade curves: deferral, accuracy and cost by confidence threshold (all eval items both answered)",
                  ["Cascade", "Threshold", "Deferred", "Accuracy", "Cost / request", "Latency p50", "Latency p95"])
    for cascade in f.summary.cascades:
        for point in cascade.curve:
            table.rows.append([
                Cell(cascade.name, cascade.name), Cell(f"{point.threshold:g}", point.threshold), pct(point.deferral_rate),
                pct(point.accuracy), usd(point.cost_per_request_usd),
                count(point.latency_p50_ms, " ms") if point.latency_p50_ms is not None else Cell(DASH),
                count(point.latency_p95_ms, " ms") if point.latency_p95_ms is not None else Cell(DASH),
            ])
    if table.rows:
        table.notes.append("A deferred item pays for and waits for both calls; an answer without a confidence is always deferred.")
    return table


def build_tables(f: Figures) -> list[Table]:
    """Every slide table of the report, in slide order."""
    tables = [accuracy_table(f), paired_table(f), per_class_table(f), confusions_table(f), tokens_table(f), latency_table(f),
              cost_per_request_table(f), cost_at_volume_table(f), savings_table(f), break_even_table(f),
              teacher_options_table(f), cascades_table(f), cascade_curve_table(f)]
    return [t for t in tables if t.rows]
