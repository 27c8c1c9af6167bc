"""What a judge-scored spec's judge calls will cost, before any is made (``distilleval estimate``).

The calls counted are the ones ``pipeline.judging.plan_judge_calls`` plans for an eval run: one
grading call per eval item per called model (teacher, student, each candidate), one per
alignment row (eval grades the alignment set too), and two per eval item in pairwise mode (the
teacher's and the student's answers, in both orders). ``distilleval align`` makes the alignment
calls alone. Two models' identical answers share one grading call, so the grading count is a
ceiling that the eval reaches when no two models answer an item alike.

The answers do not exist yet, so each is assumed as long as the item's gold answer (the same
stand-in the models' output tokens are estimated with), or as the model's ``max_tokens`` where
the item has no gold. Each prompt is rendered with the judge's own messages (criteria, inputs,
reference when the spec shows one, the stand-in answer) and counted with the local tokenizer.
Each call's output is priced at the judge's ``max_tokens``: a ceiling, since a verdict is one
short reason and a verdict line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distilleval.spec.task_spec import TaskSpec


@dataclass(frozen=True)
class JudgeCallGroup:
    """One kind of judge call (``grading``, ``pairwise`` or ``alignment``): how many, and their tokens."""

    kind: str
    calls: int
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class JudgeEstimate:
    """The judge's projected calls for one eval run and for ``distilleval align``, priced.

    Attributes:
        model, priced_as: the judge and the pricing entry it is priced as.
        grading, pairwise, alignment: the calls by kind (pairwise has 0 calls unless ``scorer.pairwise``).
        eval_usd: grading + pairwise + alignment calls at the table's price (what eval makes).
        align_usd: the alignment calls alone (what ``distilleval align`` makes).
        batch: priced at the batch tier.
        answer_basis, output_basis, batch_basis: how the tokens and the tier were chosen, in words.
    """

    model: str
    priced_as: str
    grading: JudgeCallGroup
    pairwise: JudgeCallGroup
    alignment: JudgeCallGroup
    eval_usd: float
    align_usd: float
    batch: bool
    answer_basis: str
    output_basis: str
    batch_basis: str

    @property
    def eval_calls(self) -> int:
        """Every judge call one eval run makes (at most: identical answers share a grading call)."""
        return self.grading.calls + self.pairwise.calls + self.alignment.calls

    @property
    def eval_input_tokens(self) -> int:
        """Input tokens of the eval run's judge calls."""
        return self.grading.input_tokens + self.pairwise.input_tokens + self.alignment.input_tokens

    @property
    def eval_output_tokens(self) -> int:
        """Output tokens of the eval run's judge calls (each at the judge's ``max_tokens``)."""
        return self.grading.output_tokens + self.pairwise.output_tokens + self.alignment.output_tokens

    def as_dict(self) -> dict[str, Any]:
        """The estimate as ``estimate --format json`` writes it."""
        groups = {g.kind: {"calls": g.calls, "input_tokens": g.input_tokens, "output_tokens": g.output_tokens}
                  for g in (self.grading, self.pairwise, self.alignment)}
        return {
            "model": self.model, "priced_as": self.priced_as, "batch": self.batch, **groups,
            "eval_calls": self.eval_calls, "eval_input_tokens": self.eval_input_tokens,
            "eval_output_tokens": self.eval_output_tokens, "eval_usd": self.eval_usd, "align_usd": self.align_usd,
            "answer_basis": self.answer_basis, "output_basis": self.output_basis, "batch_basis": self.batch_basis,
        }


def _answer_stand_in(item: Any, max_tokens: int) -> tuple[str, int]:
    """The text a model's answer is assumed to be, plus tokens added on top of it (no gold: ``max_tokens``)."""
    from distilleval.costs.estimates import gold_as_text

    if item.gold is None:
        return "", max_tokens
    return gold_as_text(item.gold), 0


def estimate_judge_calls(spec: TaskSpec, eval_items: Sequence[Any], pricing: Any) -> JudgeEstimate | None:
    """The judge's calls for one eval run of ``spec`` over ``eval_items``, and for ``align``, priced.

    Returns:
        None when the spec's scorer is not a judge.

    Raises:
        DataError: the criteria file or the alignment set cannot be read (file, line, field).
        PricingError: the judge has no price in the table.
    """
    import functools

    from distilleval.costs import cost_model
    from distilleval.costs.tokens import count_message_tokens, count_tokens
    from distilleval.pipeline.judging import criteria_text, load_alignment
    from distilleval.scoring.judge import judge_messages, pairwise_messages

    judge = spec.judge_model()
    if judge is None:
        return None
    scorer = spec.judge_settings()
    criteria = criteria_text(spec)
    out_per_call = scorer.max_tokens
    models = spec.models()  # teacher, student, then the candidates: every model eval calls and the judge grades
    # The criteria are the system message of every call: counted once, not once per call.
    counters = (functools.lru_cache(maxsize=4)(count_tokens), count_tokens)

    def count(messages: tuple) -> int:
        return count_message_tokens(messages, text_counters=counters)

    def reference(item: Any) -> str | None:
        from distilleval.costs.estimates import gold_as_text

        return None if scorer.reference is None or item.gold is None else gold_as_text(item.gold)

    grading_in = pairwise_in = 0
    no_gold = 0
    for item in eval_items:
        no_gold += item.gold is None
        for model in models.values():
            answer, extra = _answer_stand_in(item, model.max_tokens)
            messages = judge_messages(criteria, item.inputs, answer, reference=reference(item), scale=scorer.scale)
            grading_in += count(messages) + extra
        if scorer.pairwise:
            first, first_extra = _answer_stand_in(item, spec.teacher.max_tokens)
            second, second_extra = _answer_stand_in(item, spec.student.max_tokens)
            messages = pairwise_messages(criteria, item.inputs, first, second, reference=reference(item))
            # Both orders hold the same text, so they count the same.
            pairwise_in += 2 * (count(messages) + first_extra + second_extra)
    rows = load_alignment(spec)
    alignment_in = sum(
        count(judge_messages(criteria, row.inputs, row.output, reference=row.reference, scale=scorer.scale))
        for row in rows
    )
    n_grading = len(eval_items) * len(models)
    n_pairwise = 2 * len(eval_items) if scorer.pairwise else 0
    grading = JudgeCallGroup("grading", n_grading, grading_in, n_grading * out_per_call)
    pairwise = JudgeCallGroup("pairwise", n_pairwise, pairwise_in, n_pairwise * out_per_call)
    alignment = JudgeCallGroup("alignment", len(rows), alignment_in, len(rows) * out_per_call)
    priced_as = pricing.key_for(judge)
    price = pricing.price_for(priced_as)

    def usd(input_tokens: int, output_tokens: int) -> float:
        return cost_model.usage_cost_usd(price, input_tokens, output_tokens, batch=judge.batch)

    eval_usd = usd(grading.input_tokens + pairwise.input_tokens + alignment.input_tokens,
                   grading.output_tokens + pairwise.output_tokens + alignment.output_tokens)
    with_gold = len(eval_items) - no_gold
    if no_gold == 0:
        answer_basis = "each model's answer assumed as long as the item's gold answer"
    elif with_gold == 0:
        answer_basis = "each model's answer assumed as long as its max_tokens (the items have no gold answer)"
    else:
        answer_basis = (f"each model's answer assumed as long as the item's gold answer ({with_gold:,} items), "
                        f"as its max_tokens where the item has none ({no_gold:,} items)")
    return JudgeEstimate(
        model=scorer.model, priced_as=priced_as, grading=grading, pairwise=pairwise, alignment=alignment,
        eval_usd=eval_usd, align_usd=usd(alignment.input_tokens, alignment.output_tokens), batch=judge.batch,
        answer_basis=answer_basis + "; prompts counted with the local tokenizer",
        output_basis=f"the judge's max_tokens ({out_per_call:,}) per call, a ceiling (a verdict is one short "
                     "reason and a verdict line)",
        batch_basis=("batch rates" if judge.batch else
                     "standard rates (eval sends the judge's calls to a batch API only with --batch)"),
    )
