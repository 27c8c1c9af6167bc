"""Token profiles of a spec: exact counts, with each rubric and each teacher prompt counted once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distilleval.cli.main import main
from distilleval.costs import estimates, tokens
from distilleval.costs.estimates import answer_token_counts, count_spec_tokens, input_token_counts, template_ends
from distilleval.costs.tokens import count_message_tokens
from distilleval.spec.data import load_items
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import load_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SPECS = sorted((REPO_ROOT / "specs").glob("*/spec.yaml"))


@pytest.mark.parametrize("spec_path", EXAMPLE_SPECS, ids=lambda path: path.parent.name)
def test_fast_counts_equal_counting_every_rendered_request_whole(spec_path):
    spec = load_spec(spec_path)
    items = load_items(spec)
    for role in ("teacher", "student"):
        model = spec.models()[role]
        slow = [
            count_message_tokens(build_messages(model, item, spec.data.image_inputs, embed_images=False))
            for item in items
        ]
        assert input_token_counts(spec, role, items) == slow


def test_the_rubric_is_cut_off_and_counted_once():
    spec = load_spec(REPO_ROOT / "specs" / "ticket_routing" / "spec.yaml")
    # The rubric is the teacher's system message: all of it up to its last line is one fixed head.
    ends = template_ends(spec.teacher.system_text)
    assert spec.teacher.system_text.startswith(ends.head) and ends.head_tokens > 500
    assert "\n" not in spec.teacher.system_text[len(ends.head) :].strip()
    assert spec.teacher.prompt_text.startswith("Message: {text}")


def _record_encodings(monkeypatch) -> list[str]:
    """Every text the local tokenizer encodes from now on, in order (it still counts them)."""
    real = tokens._encoding()
    encoded: list[str] = []

    class Recording:
        def encode(self, text, **kwargs):
            encoded.append(text)
            return real.encode(text, **kwargs)

    monkeypatch.setattr(tokens, "_encoding", lambda: Recording())
    return encoded


def test_estimate_encodes_each_request_once_not_the_rubric_per_item(tiny_spec_path, monkeypatch, capsys):
    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    rubric_chars = len(spec.teacher.prompt_text)

    encoded = _record_encodings(monkeypatch)
    assert main(["estimate", str(tiny_spec_path), "--format", "json"]) == 0
    capsys.readouterr()
    inputs_chars = sum(len(text) for item in items for text in item.inputs.values())
    # The rubric's fixed part once per template, each item's own text about once per role (the
    # eval split and the pool reuse those counts), plus the short gold answers.
    assert sum(len(text) for text in encoded) < rubric_chars + 3 * inputs_chars + 200


def test_profiles_of_a_subset_are_views_of_the_same_counts(tiny_spec_path):
    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    counts = count_spec_tokens(spec, items)
    eval_profiles = counts.profiles(spec, "eval")
    eval_items = [item for item in items if item.split == "eval"]
    assert eval_profiles["teacher"].input_tokens.total == sum(input_token_counts(spec, "teacher", eval_items))
    assert eval_profiles["student"].input_tokens.n == len(eval_items)


def test_a_rubric_sent_as_a_fieldless_system_message_is_encoded_once(tiny_spec_path, monkeypatch):
    from distilleval.costs.estimates import message_text_counters

    spec = load_spec(tiny_spec_path)
    rubric = "Route the ticket.\nRules: be brief.\nAnswer with one label."
    model = spec.teacher.model_copy(update={"system": rubric, "system_text": rubric})
    system_count = message_text_counters(model)[0]

    encoded = _record_encodings(monkeypatch)
    assert [system_count(rubric) for _ in range(5)] == [tokens.count_tokens(rubric)] * 5
    assert encoded == [rubric]  # the check above encoded it once; the counter itself never did
    assert system_count("something else") == tokens.count_tokens("something else")


def test_training_is_priced_at_price_as_else_the_base_models_row(tiny_spec_path):
    from distilleval.costs.estimates import training_price_key
    from distilleval.costs.pricing import load_pricing
    from distilleval.spec.task_spec import TrainingSpec

    spec, pricing = load_spec(tiny_spec_path), load_pricing()
    assert training_price_key(spec, pricing) == "Qwen/Qwen3-8B"
    assert training_price_key(spec, pricing, base_model="Qwen/Qwen3.5-9B") == "Qwen/Qwen3.5-9B"
    explicit = spec.model_copy(update={"training": TrainingSpec(price_as="tinker/seed")})
    assert training_price_key(explicit, pricing) == "tinker/seed"


def test_projection_leaves_out_the_rows_the_trainer_holds_out(tiny_spec_path):
    from distilleval.costs.estimates import project_training
    from distilleval.costs.pricing import load_pricing
    from distilleval.costs.training_plan import heldout_indices

    spec, pricing = load_spec(tiny_spec_path), load_pricing()
    rows = list(range(100, 300))  # 200 rows of distinct lengths
    exact = project_training(spec, pricing, examples=200, tokens_per_row=0.0, row_tokens=rows)
    held = heldout_indices(200, 0.1, 0)
    assert exact.train_rows == 180 and exact.tokens_basis == "per row"
    assert exact.tokens_per_epoch == sum(t for i, t in enumerate(rows) if i not in held)
    # 180 rows: batch 16 gives 12 steps an epoch, so the cookbook raises 4 epochs to 9 (108 steps).
    assert (exact.schedule.batch_size, exact.schedule.epochs, exact.schedule.steps) == (16, 9, 108)
    assert exact.cost_usd == pytest.approx(exact.tokens_per_epoch * 9 * 0.44 / 1e6)
    mean = project_training(spec, pricing, examples=200, tokens_per_row=50.0)
    assert mean.tokens_basis == "mean" and mean.tokens_per_epoch == 180 * 50.0
    assert "cookbook recipe: 180 rows (200 labelled, 10% held out), batch 16, 9 epochs, 108 steps" in mean.describe()
    assert "Qwen3-8B on Tinker's training rate, $0.44/1M" in mean.describe()


def test_text_requests_are_counted_without_building_messages_each_distinct_text_once(monkeypatch):
    from distilleval.costs import estimates

    spec = load_spec(REPO_ROOT / "specs" / "ticket_routing" / "spec.yaml")
    items = load_items(spec)
    twice = items + items
    expected = {role: input_token_counts(spec, role, twice) for role in ("teacher", "student")}

    def no_messages(*args, **kwargs):
        raise AssertionError("messages built")

    encoded = _record_encodings(monkeypatch)
    monkeypatch.setattr(estimates, "build_messages", no_messages)
    for role in ("teacher", "student"):
        encoded.clear()
        assert input_token_counts(spec, role, twice) == expected[role]
        assert len(encoded) == len(set(encoded)) <= len(items)


def test_each_distinct_gold_answer_is_counted_once_by_a_model_s_counter():
    from distilleval.costs.estimates import answer_token_counts, gold_as_text
    from distilleval.costs.tokens import TokenCounter

    spec = load_spec(REPO_ROOT / "specs" / "ticket_routing" / "spec.yaml")
    items = load_items(spec)
    asked: list[str] = []

    def count_answer(text):
        asked.append(text)
        return len(text)

    counter = TokenCounter("chars", lambda messages: 0, count_answer)
    counted = answer_token_counts(items, counter=counter)
    assert counted == [None if item.gold is None else len(gold_as_text(item.gold)) for item in items]
    assert sorted(asked) == sorted({gold_as_text(item.gold) for item in items if item.gold is not None})
    assert answer_token_counts(items) == [None if item.gold is None else tokens.count_tokens(gold_as_text(item.gold))
                                          for item in items]


class _Reads(list):
    """A list that records how it is read: each slice taken, and each full iteration."""

    def __init__(self, items):
        super().__init__(items)
        self.slices, self.iterations = [], 0

    def __getitem__(self, index):
        if isinstance(index, slice):
            self.slices.append((index.start, index.stop))
        return super().__getitem__(index)

    def __iter__(self):
        self.iterations += 1
        return super().__iter__()


def test_counts_are_compact_arrays_from_one_chunked_pass_over_the_items(tiny_spec_path, monkeypatch):
    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    monkeypatch.setattr(estimates, "COUNT_CHUNK", 4)
    read = _Reads(items)
    counts = count_spec_tokens(spec, read)
    # Every role is counted on a chunk before the next is read: one pass, never a pass per role.
    assert read.slices == [(0, 4), (4, 8)] and read.iterations == 0
    for role in spec.models():
        assert isinstance(counts.inputs[role], np.ndarray) and counts.inputs[role].dtype == np.int32
        assert isinstance(counts.outputs[role], np.ndarray) and counts.outputs[role].dtype == np.int32
        assert counts.inputs[role].tolist() == input_token_counts(spec, role, items)
        assert counts.answers(role) == answer_token_counts(items)
    assert counts.evals.tolist() == [item.split == "eval" for item in items]


def test_token_stats_of_an_int32_array_equal_those_of_the_list():
    from distilleval.costs.estimates import TokenStats

    rng = np.random.default_rng(7)
    for size, high in [(1, 5), (2, 9), (1_001, 40), (20_000, 300), (65_537, 200_000)]:
        counts = rng.integers(0, high, size).astype(np.int32)
        assert TokenStats.of(counts) == TokenStats.of(counts.tolist())
        assert TokenStats.repeated(int(counts[0]), size) == TokenStats.of([int(counts[0])] * size)
    assert TokenStats.of(np.zeros(0, dtype=np.int32)) == TokenStats.of([]) == TokenStats.repeated(3, 0)
