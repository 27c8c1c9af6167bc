"""The estimate of a judge-scored spec's judge calls, held to what an eval against the judge double
actually sends: the same number of calls of each kind, input tokens equal to the eval's own judge
prompts with each model answer swapped for the item's gold answer, and a cost that is the table's
price times those tokens."""

from __future__ import annotations

import json
import re

import pytest

from distilleval.cli.main import main
from distilleval.costs.pricing import load_pricing
from distilleval.costs.tokens import count_message_tokens
from distilleval.pipeline.judge_costs import estimate_judge_calls
from distilleval.spec.data import load_items, split_items
from distilleval.spec.task_spec import load_spec
from distilleval.testing.judge_double import JudgeDouble
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.pipeline.test_judging import N_ITEMS, is_right, write_judge_spec

GPT_41_MINI = (0.40, 1.60)  # the table's USD per 1M input / output tokens, the judge's price_as
JUDGE_MAX_TOKENS = 256  # scorer.max_tokens default


def _item(prompt: str) -> int:
    return int(prompt.rsplit("#", 1)[1].split()[0])


def teacher(prompt: str) -> str:
    """Never the student's answer, so no two models share a grading call."""
    i = _item(prompt)
    return f"right: your order {i} leaves our depot tomorrow morning" if i % 10 else f"wrong: no idea about {i}"


def student(prompt: str) -> str:
    i = _item(prompt)
    return f"right: order {i} ships tomorrow" if i % 4 else f"wrong: order {i} lost"


def _gold_swapped(messages: list[dict], gold: str) -> list[dict]:
    """The request with every answer it shows replaced by ``gold`` (the estimate's stand-in)."""
    user = messages[1]["content"]
    user = re.sub(r"(Answer to grade:\n).*?(\n\n(?:Decide|Grade) )", lambda m: m.group(1) + gold + m.group(2), user,
                  flags=re.DOTALL)
    user = re.sub(r"(Answer 1:\n).*?(\n\nAnswer 2:\n).*?(\n\nWhich answer)",
                  lambda m: m.group(1) + gold + m.group(2) + gold + m.group(3), user, flags=re.DOTALL)
    return [messages[0], {**messages[1], "content": user}]


@pytest.mark.parametrize("pairwise", [False, True])
def test_the_estimate_counts_and_prices_the_calls_eval_makes_against_the_judge_double(tmp_path, pairwise):
    double = JudgeDouble(truth=is_right, sensitivity=0.9, specificity=0.8, seed=5)
    scripts = {"teacher-m": ModelScript(answer=teacher), "student-m": ModelScript(answer=student),
               "judge-m": ModelScript(answer=double)}
    with OpenAIServer(scripts) as server:
        spec_path = write_judge_spec(tmp_path / "task", server.base_url, pairwise=pairwise)
        spec = load_spec(spec_path)
        eval_items = split_items(load_items(spec), "eval")
        estimate = estimate_judge_calls(spec, eval_items, load_pricing(None))
        assert main(["eval", str(spec_path), "--runs-dir", str(tmp_path / "runs"), "--no-cache"]) == 0
        sent = server.requests_for("judge-m")
    assert all(r.outcome == "ok" for r in sent)
    pairwise_sent = [r for r in sent if "Answer 1:" in r.prompt]
    alignment_sent = [r for r in sent if "Answer 1:" not in r.prompt and _item(r.prompt) >= N_ITEMS]
    grading_sent = [r for r in sent if r not in pairwise_sent and r not in alignment_sent]
    assert len(grading_sent) == 2 * N_ITEMS and len(alignment_sent) == 40
    assert len(pairwise_sent) == (2 * N_ITEMS if pairwise else 0)
    assert (estimate.grading.calls, estimate.pairwise.calls, estimate.alignment.calls) == (
        len(grading_sent), len(pairwise_sent), len(alignment_sent))
    assert estimate.eval_calls == len(sent)
    # Alignment prompts are known in advance: the estimate counts exactly what was sent.
    assert estimate.alignment.input_tokens == sum(count_message_tokens(r.body["messages"]) for r in alignment_sent)
    # Grading and pairwise prompts: what was sent, with each answer swapped for the item's gold reply.
    for group, requests in ((estimate.grading, grading_sent), (estimate.pairwise, pairwise_sent)):
        assert group.input_tokens == sum(
            count_message_tokens(_gold_swapped(r.body["messages"], f"order {_item(r.prompt)} ships tomorrow"))
            for r in requests)
        assert group.output_tokens == JUDGE_MAX_TOKENS * len(requests)
    # Priced exactly at the table's GPT-4.1-mini rates (the judge's price_as), standard tier.
    expected = (estimate.eval_input_tokens * GPT_41_MINI[0] + estimate.eval_output_tokens * GPT_41_MINI[1]) / 1e6
    assert estimate.eval_usd == pytest.approx(expected, rel=1e-12)
    assert estimate.align_usd == pytest.approx(
        (estimate.alignment.input_tokens * GPT_41_MINI[0] + 40 * JUDGE_MAX_TOKENS * GPT_41_MINI[1]) / 1e6, rel=1e-12)
    assert not estimate.batch and estimate.priced_as == "openai/gpt-4.1-mini"


def test_items_without_gold_assume_the_models_max_tokens(tmp_path):
    spec_path = write_judge_spec(tmp_path / "task", "http://127.0.0.1:9/v1")
    data = tmp_path / "task" / "data.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    data.write_text("".join(json.dumps({k: v for k, v in row.items() if k != "reply"}) + "\n" for row in rows))
    spec_path.write_text(spec_path.read_text().replace("gold: reply, ", "").replace(
        'prompt: "{text}",', 'prompt: "{text}", max_tokens: 77,'))
    spec = load_spec(spec_path)
    items = split_items(load_items(spec), "eval")
    estimate = estimate_judge_calls(spec, items, load_pricing(None))
    from distilleval.pipeline.judging import criteria_text
    from distilleval.scoring.judge import judge_messages

    empty = sum(count_message_tokens(judge_messages(criteria_text(spec), item.inputs, "", reference=None,
                                                    scale="pass_fail")) for item in items)
    assert estimate.grading.input_tokens == 2 * empty + N_ITEMS * (spec.teacher.max_tokens + 77)
    assert "max_tokens" in estimate.answer_basis


def test_a_spec_without_a_judge_has_no_judge_estimate(tiny_spec_path):
    spec = load_spec(tiny_spec_path)
    assert estimate_judge_calls(spec, load_items(spec), load_pricing(None)) is None
