"""A judge-scored eval against llama.cpp: SmolLM2 writes the replies and grades them as the judge.

SmolLM2-135M is a weak judge (it often gives no VERDICT line at all); what must hold is that every
judge figure distilleval reports is the server's own record: the number of judge calls, their
tokens and cost (priced at the judge's table row), the calls that gave no verdict (missing data,
counted), and each model's judge passes.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from distilleval.cli.main import main
from distilleval.scoring.judge import parse_verdict
from tests.real_server.task import REVIEWS

JUDGE_MODEL = "smollm2-judge"
JUDGE_RATES = {"input": 0.40, "cached_input": 0.10, "output": 1.60}  # openai/gpt-4.1-mini in pricing/2026-02.yaml
ITEMS = REVIEWS[:2]


def _write(folder, api_base):
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "reviews.jsonl").open("w") as handle:
        for number, (review, _) in enumerate(ITEMS):
            handle.write(json.dumps({"id": f"r{number}", "review": review, "split": "eval"}) + "\n")
    with (folder / "alignment.jsonl").open("w") as handle:
        for review, label in REVIEWS[8:9]:
            for answer, verdict in ((f"The customer is {label}.", "pass"), ("I like turtles.", "fail")):
                handle.write(json.dumps({"review": review, "output": answer, "verdict": verdict}) + "\n")
    (folder / "criteria.md").write_text("The reply says whether the customer is happy or unhappy, correctly.\n")
    (folder / "spec.yaml").write_text(f"""name: review_reply
data: {{path: reviews.jsonl, input: {{text: review}}, id: id, split: {{column: split}}}}
output: {{kind: text}}
scorer:
  kind: judge
  model: openai/{JUDGE_MODEL}
  criteria: criteria.md
  api_base: {api_base}
  fast_path: true
  price_as: openai/gpt-4.1-mini
  max_tokens: 8
  timeout_s: 120
  alignment: {{path: alignment.jsonl, min_rows: 2}}
teacher: {{model: openai/smollm2-teacher, prompt: "Is this customer happy? {{text}}", max_tokens: 8, api_base: {api_base},
  fast_path: true, price_as: openai/gpt-5.2, timeout_s: 120}}
student: {{model: openai/smollm2-student, prompt: "{{text}}", max_tokens: 8, api_base: {api_base}, fast_path: true,
  price_as: tinker/lora, timeout_s: 120}}
""")
    return folder / "spec.yaml"


def _judge_exchanges(exchanges):
    return [e for e in exchanges if e["path"].endswith("/chat/completions") and e["request"]["model"] == JUDGE_MODEL]


def test_every_judge_figure_is_the_servers_record(tmp_path, llama_proxy):
    spec = _write(tmp_path / "task", llama_proxy.base_url)
    llama_proxy.clear()
    status = main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--no-cache", "--concurrency", "4"])
    exchanges = _judge_exchanges(llama_proxy.exchanges())
    [run_dir] = (tmp_path / "runs").iterdir()
    judge = json.loads((run_dir / "summary.json").read_text())["judge"]
    assert all(e["status"] == 200 for e in exchanges)
    usage = [e["response"]["usage"] for e in exchanges]
    cached = [(u.get("prompt_tokens_details") or {}).get("cached_tokens", 0) for u in usage]
    assert judge["calls"] == len(exchanges)
    assert judge["input_tokens_total"] == sum(u["prompt_tokens"] for u in usage)
    assert judge["output_tokens_total"] == sum(u["completion_tokens"] for u in usage)
    hand_priced = sum((u["prompt_tokens"] - c) * JUDGE_RATES["input"] + c * JUDGE_RATES["cached_input"]
                      + u["completion_tokens"] * JUDGE_RATES["output"] for u, c in zip(usage, cached)) / 1e6
    assert judge["cost_usd"] == pytest.approx(hand_priced, rel=1e-9, abs=1e-15)
    texts = [e["response"]["choices"][0]["message"]["content"] for e in exchanges]
    no_verdict = sum(parse_verdict(t) is None for t in texts)
    assert judge["failed_calls"] == no_verdict  # missing data, counted; never a fail
    assert status == (1 if judge["error_rate"] > 0.02 else 0)
    # Each model's judge passes: the server's verdicts on that model's own answers.
    with sqlite3.connect(run_dir / "records.sqlite") as db:
        answers = db.execute("SELECT model, text FROM records WHERE model IN ('teacher', 'student') "
                             "AND status = 'ok'").fetchall()
    verdict_of = {}
    for exchange, text in zip(exchanges, texts):
        graded = exchange["request"]["messages"][-1]["content"].split("Answer to grade:\n", 1)
        if len(graded) == 2:
            verdict_of[graded[1].rsplit("\n\nDecide", 1)[0]] = parse_verdict(text)
    for role in ("teacher", "student"):
        verdicts = [verdict_of.get(text) for model, text in answers if model == role]
        expected = sum(v is not None and v.passed for v in verdicts)
        assert judge["figures"][role]["passes"] == expected, role
