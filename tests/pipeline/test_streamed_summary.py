"""A run scored a chunk at a time from its run store (``pipeline.streamed_summary``) gives the summary
and item rows that ``build_summary`` gives over the same outputs held in memory."""

from __future__ import annotations

import json

import pytest

from distilleval.costs.pricing import load_pricing
from distilleval.pipeline.call_outputs import model_outputs
from distilleval.pipeline.streamed_summary import write_streamed_summary
from distilleval.results.build import ModelRun, build_summary
from distilleval.results.item_results import iter_items
from distilleval.results.item_store import ItemSet
from distilleval.results.summary_json import read_summary, write_summary
from distilleval.run.runner import CallResult
from distilleval.run.store import RunStore
from distilleval.scoring import build_scorer
from distilleval.spec.data import load_items
from distilleval.spec.task_spec import load_spec

N_ITEMS = 23


def write_spec(folder, *, json_task: bool):
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data.jsonl").open("w") as handle:
        for i in range(N_ITEMS):
            gold = json.dumps({"name": f"n{i}", "total": i}) if json_task else ("pos" if i % 3 else "neg")
            handle.write(json.dumps({"id": f"i{i}", "text": f"t{i}", "gold": gold, "split": "eval"}) + "\n")
    output, scorer = ("{kind: json}", "json_fields") if json_task else ("{kind: label, labels: [pos, neg]}", "exact_match")
    (folder / "spec.yaml").write_text(f"""
name: demo
data: {{path: data.jsonl, input: {{text: text}}, gold: gold, id: id, split: {{column: split}}}}
output: {output}
scorer: {scorer}
teacher: {{model: openai/gpt-5.2, prompt: "{{text}}"}}
student: {{model: openai/gpt-4.1-mini, prompt: "{{text}}"}}
cascades: [{{first: student, fallback: teacher}}]
""", encoding="utf-8")
    spec = load_spec(folder / "spec.yaml")
    return spec, sorted(load_items(spec), key=lambda item: item.line)


def answer(item, i: int, role: str, json_task: bool) -> str:
    """Mostly right; the student errs on every fourth item, and says something invalid on every seventh."""
    if i % 7 == 3 and role == "student":
        return "no idea"
    if json_task:
        return json.dumps({"name": f"n{i}", "total": i if role == "teacher" or i % 4 else -1})
    right = item.gold
    return right if role == "teacher" or i % 4 else ("neg" if right == "pos" else "pos")


def fill_store(run_dir, items, json_task: bool) -> None:
    """Both roles' calls with every case: failed calls, missing rows, cache hits, truncated answers,
    confidences, a repeat and an item outside the set (both ignored)."""
    with RunStore(run_dir) as store:
        for role in ("teacher", "student"):
            for i, item in enumerate(items):
                if role == "student" and i % 9 == 5:
                    continue  # no row: counts as missing
                if i % 6 == 1:
                    store.add(CallResult(item.id, role, 0, "error", error_kind="timeout", error_message="slow",
                                         attempts=3, latency_ms=30000.0))
                    continue
                store.add(CallResult(
                    item.id, role, 0, "ok", text=answer(item, i, role, json_task), input_tokens=100 + i,
                    output_tokens=5 + i % 3, latency_ms=200.0 + 7 * i + (0.5 if role == "student" else 0.0),
                    cost_usd=0.001, cache_hit=i % 5 == 2, attempts=1, cached_input_tokens=i % 4 * 10,
                    finish_reason="length" if i % 8 == 6 else "stop",
                    confidence=(i % 10) / 10 if role == "student" else None,
                    confidence_basis="token_logprobs:mean" if role == "student" else None,
                ))
            store.add(CallResult(items[0].id, role, 1, "ok", text="pos", latency_ms=1.0))
            store.add(CallResult("not-an-eval-item", role, 0, "ok", text="pos", latency_ms=1.0))


def model_runs(spec, pricing, outputs=None):
    models = spec.models()
    return [ModelRun(name=role, role=spec.role_of(role), model=models[role].model,
                     outputs=(outputs or {}).get(role, []), priced_as="test") for role in ("teacher", "student")]


@pytest.mark.parametrize("json_task", [False, True], ids=["exact_match", "json_fields"])
@pytest.mark.parametrize("chunk_items", [5, 7])
def test_streamed_summary_matches_the_in_memory_build(tmp_path, json_task, chunk_items):
    spec, items = write_spec(tmp_path / "spec", json_task=json_task)
    assert len(items) % chunk_items  # several chunks and a partial last one
    pricing = load_pricing()
    run_dir = tmp_path / "run"
    fill_store(run_dir, items, json_task)
    with build_scorer(spec) as scorer:
        streamed = write_streamed_summary(spec, items, model_runs(spec, pricing), [], pricing=pricing,
                                          run_dir=run_dir, scorer=scorer, chunk_items=chunk_items)
    with RunStore(run_dir) as store:
        outputs = {role: model_outputs(store.results(role), items, pricing.price_for(pricing.key_for(model)),
                                        batch=False)
                   for role, model in spec.models().items()}
    with build_scorer(spec) as scorer:
        in_memory = build_summary(spec, items, model_runs(spec, pricing, outputs), pricing=pricing, run_id="run",
                                  scorer=scorer, created_at=streamed.created_at)
    write_summary(in_memory, tmp_path / "memory" / "summary.json")

    again = read_summary(run_dir)
    assert again.item_store is not None and again.item_store.rows == N_ITEMS
    exclude = {"items", "item_store"}
    assert again.model_dump(exclude=exclude) == in_memory.model_dump(exclude=exclude)
    assert list(iter_items(again)) == in_memory.items
    # Every case the test means to cover did occur.
    student = again.models["student"]
    assert student.errors == {"timeout": 4, "missing": 2} and student.cache_hits > 0 and student.truncated > 0
    assert student.n_confident > 0 and student.invalid_rate and again.cascades[0].n_items > 0
    assert again.comparisons[0].dropped_failed == 6
    assert again.primary_metric == ("field_f1" if json_task else "accuracy")


def test_a_failure_while_scoring_leaves_the_summary_and_its_rows_as_they_were(tmp_path):
    spec, items = write_spec(tmp_path / "spec", json_task=False)
    pricing = load_pricing()
    run_dir = tmp_path / "run"
    fill_store(run_dir, items, json_task=False)
    with build_scorer(spec) as scorer:
        first = write_streamed_summary(spec, items, model_runs(spec, pricing), [], pricing=pricing,
                                       run_dir=run_dir, scorer=scorer, chunk_items=5)
    before = (run_dir / "summary.json").read_text()

    class Failing:
        """The spec's scorer, failing on the third chunk."""

        def __init__(self, scorer):
            self.scorer, self.calls = scorer, 0

        def __getattr__(self, name):
            return getattr(self.scorer, name)

        def score_items(self, texts, chunk):
            self.calls += 1
            if self.calls > 4:  # two models a chunk
                raise RuntimeError("scorer broke")
            return self.scorer.score_items(texts, chunk)

    with build_scorer(spec) as scorer, pytest.raises(RuntimeError, match="scorer broke"):
        write_streamed_summary(spec, items, model_runs(spec, pricing), [], pricing=pricing, run_dir=run_dir,
                               scorer=Failing(scorer), chunk_items=5)
    assert (run_dir / "summary.json").read_text() == before
    assert first.item_store is not None
    stored = ItemSet(run_dir / "records.sqlite", first.item_store.set_id)
    assert stored.n_items == N_ITEMS and len(list(stored.item_ids())) == N_ITEMS
    assert len(list(iter_items(read_summary(run_dir)))) == N_ITEMS
