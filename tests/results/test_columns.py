"""``results.columns``: scores and outputs kept as columns read back as the records they were built from."""

from __future__ import annotations

import dataclasses

import pytest

from distilleval.results.build import ModelOutput
from distilleval.results.columns import TEXT_KEPT_OUT, OutputColumns, ScoreColumns
from distilleval.scoring.base import ItemScore

SCORES = [
    ItemScore(1.0, canonical="pos", gold_canonical="pos"),
    ItemScore(0.0, valid=False, reason="invalid_label", gold_canonical="neg", details={"output": "maybe"}),
    ItemScore(None, valid=False),
    ItemScore(0.5, reason="partial", canonical='{"a": 1}', gold_canonical='{"a": 2}', counts=(1, 1, 1),
              details={"fields": {"a": (1, 1, 1)}}),
    ItemScore(1.0, canonical="pos", gold_canonical="pos"),
    ItemScore(0.25, counts=(0, 0, 0)),
]

def model_outputs():
    """Outputs with every field set somewhere (made per test: a module-level list would keep ModelOutputs
    alive for the whole session, and tests/pipeline/test_evaluate.py counts the live ones)."""
    return [
        ModelOutput("a", "pos", input_tokens=10, output_tokens=2, latency_ms=120.5, cost_usd=0.002, cache_hit=True,
                    cached_input_tokens=4, cache_write_tokens=1, finish_reason="stop", confidence=0.9,
                    confidence_basis="token_logprobs:mean"),
        ModelOutput("b", None, error_kind="timeout", latency_ms=30000.0),
        ModelOutput("c", None, error_kind="batch_failed", error_reason="token_limit_exceeded: too long", cost_usd=0.5),
        ModelOutput("d", "{\"a\": 1", finish_reason="length", input_tokens=0, output_tokens=0),
        ModelOutput("e", None, error_kind="missing"),
    ]


def filled(cls, records, chunk: int):
    columns = cls() if cls is ScoreColumns else cls(ModelOutput)
    for start in range(0, len(records), chunk):
        columns.extend(records[start:start + chunk])
    return columns


@pytest.mark.parametrize("chunk", [1, 2, 100])
def test_scores_round_trip_every_field_and_behave_as_a_sequence(chunk):
    columns = filled(ScoreColumns, SCORES, chunk)
    assert len(columns) == len(SCORES)
    assert list(columns) == SCORES
    assert [columns[i] for i in range(len(SCORES))] == SCORES
    assert columns[-1] == SCORES[-1] and columns[-len(SCORES)] == SCORES[0]
    assert columns[1:4] == SCORES[1:4] and columns[::-2] == SCORES[::-2]
    assert all(type(s) is ItemScore for s in columns)
    with pytest.raises(IndexError):
        columns[len(SCORES)]
    with pytest.raises(IndexError):
        columns[-len(SCORES) - 1]
    assert columns.scores() == [s.score for s in SCORES]
    assert columns.canonical_at([0, 1, 3]) == ["pos", None, '{"a": 1}']
    assert list(columns.subset([3, 0, 5])) == [SCORES[3], SCORES[0], SCORES[5]]
    assert list(columns.subset([1, 2, 3])) == SCORES[1:4]


def test_equal_scores_without_details_are_one_shared_record():
    columns = filled(ScoreColumns, SCORES, 3)
    assert columns[0] is columns[4]
    assert columns[1] is not columns[1]  # details are the item's own
    assert columns[1].details == {"output": "maybe"}


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_outputs_round_trip_every_field_but_the_text(chunk):
    outputs = model_outputs()
    columns = filled(OutputColumns, outputs, chunk)
    expected = [dataclasses.replace(o, text=None if o.text is None else TEXT_KEPT_OUT) for o in outputs]
    assert len(columns) == len(outputs)
    assert list(columns) == expected
    assert columns[-2] == expected[-2] and columns[2:] == expected[2:]
    assert [o.truncated for o in columns] == [o.truncated for o in outputs]
    assert columns.column("error_kind").tolist() == [-1, 0, 1, -1, 2]
    assert columns.code_of("finish_reason", "length") == 1 and columns.code_of("finish_reason", "never") == -2


def test_empty_columns():
    scores, outputs = ScoreColumns(), OutputColumns(ModelOutput)
    assert len(scores) == len(outputs) == 0 and list(scores) == list(outputs) == []
    assert scores.column("counts").shape == (0, 3) and outputs.column("cache_hit").dtype == bool
    with pytest.raises(IndexError):
        scores[0]


@pytest.mark.parametrize("with_details", [False, True], ids=["list", "read as iterated"])
def test_a_subset_reads_dense_and_sparse_positions_alike(with_details):
    many = [ItemScore(float(i % 2), canonical=str(i % 3), counts=(i, 0, 1) if i % 5 else None,
                      details={"i": i} if with_details else {}) for i in range(50)]
    columns = filled(ScoreColumns, many, 7)
    assert isinstance(columns.subset([0, 1]), list) is not with_details
    for positions in ([0, 49], [49, 3, 0], list(range(10, 40)), [i for i in range(50) if i % 4]):
        assert list(columns.subset(positions)) == [many[i] for i in positions]
        assert columns.subset(positions)[-1] == many[positions[-1]] and len(columns.subset(positions)) == len(positions)


@pytest.mark.parametrize("expected", [0, 10, 5000])
def test_columns_grow_past_the_room_reserved(expected):
    many = [ItemScore(float(i % 3 == 0), reason=None if i % 3 == 0 else f"r{i % 7}", counts=(i, 1, 2))
            for i in range(3000)]
    columns = ScoreColumns(expected=expected)
    for start in range(0, len(many), 700):
        columns.extend(many[start:start + 700])
        assert len(columns) == min(start + 700, len(many)) and columns[len(columns) - 1] == many[len(columns) - 1]
    assert list(columns) == many and columns.column("counts").shape == (3000, 3)


def test_strings_read_back_what_was_appended():
    from distilleval.results.columns import Strings

    values = ["a", "", "é-ü", "x" * 300, "日本", "b"]
    strings = Strings(values[:2])
    strings.extend([])
    strings.extend(values[2:])
    assert list(strings) == values and len(strings) == len(values)
    assert [strings[i] for i in range(-len(values), len(values))] == values + values
    assert strings[1:4] == values[1:4] and strings[::-2] == values[::-2]
    with pytest.raises(IndexError):
        strings[len(values)]


def test_codes_of_many_values_are_the_codes_of_each():
    from distilleval.results.columns import Codes

    values = ["b", None, "a", "b", None, "c", "a"]
    one_by_one, at_once = Codes(), Codes()
    at_once.code("a")
    one_by_one.code("a")
    assert at_once.codes(values).tolist() == [one_by_one.code(value) for value in values]
    assert at_once.values == one_by_one.values == ["a", "b", "c"] and at_once.codes([]).tolist() == []


def test_the_first_arrays_are_the_size_reserved_not_twice_it():
    columns = ScoreColumns(expected=5000)
    columns.extend([ItemScore(1.0)] * 10)
    assert columns._store._arrays["score"].shape == (5000,)
