"""`distilleval estimate SPEC`: what a spec will cost, before any money is spent.

Renders every item's teacher and student prompt, counts its tokens with the model's own chat
template and tokenizer where they can be known (a Tinker base model's packaged tokenizer; a
local server's template endpoints, asked over ``api_base``), else with the local tokenizer and
says so, and prices labelling the pool with the teacher, one eval run, and a request at the
spec's volumes. ``--from-run RUN`` measures the estimate's error against a finished run's
tokens and calibrates the figures by it.
It first makes every input check ``eval`` and ``run`` make (``pipeline.preflight``), so a spec
it accepts is one they will not refuse for its data.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from distilleval.commands.argument_types import non_negative_int, share
from distilleval.commands.options import add_pricing_option

if TYPE_CHECKING:
    from distilleval.costs.calibration import Calibration
    from distilleval.pipeline.judge_costs import JudgeEstimate
    from distilleval.pipeline.stages.estimate import EstimateResult

HELP = "Count every item's prompt tokens and price labelling and eval runs before spending"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval estimate`` to ``parser``."""
    parser.add_argument("spec", help="task spec YAML")
    add_pricing_option(parser, "pricing table YAML (default: the spec's, else the bundled 2026-02 table)")
    parser.add_argument("--pool", help="unlabelled inputs the teacher would label (default: the spec's pool, else its train split)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--from-run", metavar="RUN", help="a finished eval run of this spec: measure the estimate's error "
                        "against its per-item tokens and calibrate the figures by it")
    parser.add_argument("--offline", action="store_true", help="do not ask a model's api_base server to count "
                        "(the local tokenizer counts those roles)")
    parser.add_argument(
        "--assumed-discordance", type=share, metavar="SHARE", default=None,
        help="for sizing the eval split: the share of items where the student and the teacher differ in correctness "
             "(default: the spec's decision.assumed_discordance, else 0.10)",
    )
    parser.add_argument(
        "--max-price-age-days", type=non_negative_int, default=180, metavar="DAYS",
        help="flag prices read longer than this before today, as `cost` does (default 180)",
    )


def run(args: argparse.Namespace) -> int:
    """Print what the spec's runs will cost (``pipeline.stages.estimate``); returns 0."""
    from distilleval.pipeline.stages.estimate import estimate
    from distilleval.pipeline.stages.result_json import to_json

    result = estimate(args.spec, pricing=args.pricing, pool=args.pool, from_run=args.from_run, offline=args.offline,
                      assumed_discordance=args.assumed_discordance, max_price_age_days=args.max_price_age_days)
    if args.format == "json":
        print(to_json(result))
    else:
        print(render_markdown(result), end="")
    return 0


def render_markdown(result: EstimateResult) -> str:
    """The estimate as the markdown ``distilleval estimate`` prints."""
    from tabulate import tabulate

    from distilleval.costs.cost_model import format_usd
    from distilleval.costs.tables import render_cost_table

    profiles, labelling, eval_run = result.profiles, result.labelling, result.eval_run
    lines: list[str] = []
    counted = "; ".join(f"{role}: {p.counted_by}" for role, p in profiles.items())
    lines.append(f"# Estimate for {result.spec}: {result.items} items, prompts rendered and counted ({counted})\n")
    rows = [
        [p.role, p.model, f"{p.input_tokens.mean:,.1f}", f"{p.input_tokens.p50:,.0f}", f"{p.input_tokens.p95:,.0f}",
         f"{p.input_tokens.max:,}", f"{p.output_tokens.mean:,.1f}"]
        for p in profiles.values()
    ]
    lines.append(tabulate(rows, headers=["Role", "Model", "Input tok (mean)", "p50", "p95", "max", "Output tok (mean)"],
                          tablefmt="github", disable_numparse=True))
    if result.compression:
        lines.append(f"\nThe student sees {result.compression:,.1f}x fewer input tokens than the teacher.\n")
    labeller = "teacher" if labelling.labelled_by == "teacher" else labelling.labelled_by
    eval_items = f"{eval_run.items:,}"
    spend = [
        [f"Label the pool with the {labeller}", labelling.pool, f"{labelling.items:,}", f"{labelling.input_tokens:,}",
         format_usd(labelling.cost_usd)],
        ["Eval run: teacher", "eval split", eval_items, f"{eval_run.input_tokens['teacher']:,}", format_usd(eval_run.teacher_usd)],
        ["Eval run: student", "eval split", eval_items, f"{eval_run.input_tokens['student']:,}", format_usd(eval_run.student_usd)],
        *([f"Eval run: {name} (candidate)", "eval split", eval_items, f"{eval_run.input_tokens[name]:,}", format_usd(usd)]
          for name, usd in eval_run.candidates_usd.items()),
        *_judge_rows(result.judge, eval_run.total_usd, format_usd),
    ]
    lines.append(tabulate(spend, headers=["Projected spend", "Items from", "Calls", "Input tokens", "Cost"],
                          tablefmt="github", disable_numparse=True))
    if result.judge is not None:
        lines.append(_judge_note(result.judge))
    lines.append("\n## Cost per request and at the spec's volumes (projected)\n")
    text = "\n".join(lines) + "\n" + render_cost_table(result.cost_table, "md")
    lines = [f"Tokens per request: {result.cost_per_request_basis}."]
    teacher_share = result.cached_input_share["teacher"]
    if teacher_share:
        lines.append(f"The teacher is priced with {teacher_share:.0%} of its input read from the prompt cache "
                     "(spec traffic.cached_input_fraction).")
    if result.student_checkpoint_note:
        lines.append(f"The student {result.student_checkpoint_note}.")
    if result.cache_share_dropped:
        lines.append(f"Prompt cache: {result.cache_share_dropped}; the teacher is priced with no cached input.")
    if result.training is None:
        lines.append(f"One-time cost and break-even not computed: {result.training_price_as!r} has no training price "
                     "in the pricing table and the spec has no training: block.")
    else:
        lines.append(f"One-time cost: {result.training.description}.")
    lines.append(f"\n## Is the eval split large enough?\n\n{result.eval_sizing.text}\n")
    lines.extend(_accuracy_lines(result.tokens_guessed, result.calibration))
    return text + "".join(line + "\n" for line in lines)


def _judge_rows(judge: JudgeEstimate | None, eval_total_usd: float, format_usd: Callable[[float], str]) -> list[list[str]]:
    """The spend table's judge lines: the eval run's judge calls, the eval run's total, and ``align``'s calls."""
    if judge is None:
        return []
    kinds = [f"{judge.grading.calls:,} grading"]
    if judge.pairwise.calls:
        kinds.append(f"{judge.pairwise.calls:,} pairwise")
    kinds.append(f"{judge.alignment.calls:,} alignment")
    return [
        [f"Eval run: judge {judge.model} ({', '.join(kinds)})", "eval split + alignment set", f"{judge.eval_calls:,}",
         f"{judge.eval_input_tokens:,}", format_usd(judge.eval_usd)],
        ["Eval run: total (models + judge)", "eval split", "", "", format_usd(eval_total_usd)],
        [f"Align run: judge {judge.model} (distilleval align)", "alignment set", f"{judge.alignment.calls:,}",
         f"{judge.alignment.input_tokens:,}", format_usd(judge.align_usd)],
    ]


def _judge_note(judge: JudgeEstimate) -> str:
    """How the judge's calls were counted and priced, under the spend table."""
    return (f"\nJudge calls priced as {judge.priced_as} at {judge.batch_basis}: a ceiling of one grading call per "
            f"eval item per model (two models' identical answers share one call); input tokens: {judge.answer_basis}; "
            f"output tokens: {judge.output_basis}.")


def _accuracy_lines(guessed: Mapping[str, str], calibrations: Mapping[str, Calibration]) -> list[str]:
    """The footer: the error measured against a run, or for each guessed role its basis and how to measure it."""
    from distilleval.costs.tokens import LOCAL_TOKENIZER

    lines = []
    for role, c in calibrations.items():
        output = f"{c.estimated_output_mean:,.1f}" if c.estimated_output_mean is not None else "no gold answers"
        lines.append(
            f"Measured error of the {role} estimate on {c.items:,} items of {c.run}: input {c.input_error:+.1%} "
            f"({c.estimated_input_mean:,.1f} estimated vs {c.measured_input_mean:,.1f} measured tokens per call), output "
            f"{output} (gold answers) vs {c.measured_output_mean:,.1f} measured; the figures above are calibrated by it "
            f"(input × {c.input_factor:,.3f}, output the run's mean).")
    for role, reason in guessed.items():
        if role in calibrations:
            continue
        lines.append(
            f"{role.capitalize()} tokens are a guess: counted with a local tokenizer ({LOCAL_TOKENIZER}), not the model's "
            f"own template ({reason}); the error is not measured: after a run, `distilleval estimate SPEC --from-run RUN` "
            "measures it and calibrates these figures.")
    return lines
