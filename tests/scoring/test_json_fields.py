"""Tests for distilleval.scoring.json_fields, including SROIE receipts from shared/data."""

from __future__ import annotations

import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilleval.errors import DataError
from distilleval.scoring import json_fields
from distilleval.scoring.json_fields import JsonFields, extract_json, normalize_value
from distilleval.spec.data import Item
from distilleval.spec.scorer_config import JsonFieldsScorer, ValueNormalization
from tests.environment import missing


@pytest.fixture(autouse=True)
def _fresh_string_cache():
    # String normalisation is cached per process: without a fresh cache a test would pass on
    # values an earlier test normalised, never running the parsing it means to check.
    json_fields._normalize_string.cache_clear()


def item(gold, i=0):
    return Item(id=str(i), inputs={"text": "x"}, gold=gold)


def score(gold, output, **config):
    return JsonFields(JsonFieldsScorer(**config)).score_items([output], [item(gold)])[0]


def test_extracts_json_from_fences_and_prose():
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Here: {"a": {"b": 2}} hope it helps') == {"a": {"b": 2}}
    # A stray brace before the real object is skipped.
    assert extract_json('Note {not json} then {"a": 3}') == {"a": 3}
    assert extract_json("nothing") is None


def test_unparseable_output_scores_as_empty_prediction_and_counts_as_parse_failure():
    s = JsonFields(JsonFieldsScorer())
    scores = s.score_items(["I cannot help", '{"total": "5"}'], [item({"total": 5}), item({"total": 5})])
    assert scores[0].score == 0.0 and scores[0].reason == "parse_error" and scores[0].counts == (0, 0, 1)
    metric, secondary = s.summarize(scores)
    assert secondary["parse_failure_rate"] == 0.5
    assert metric.value == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))


def test_numbers_compare_by_value():
    assert score({"total": 5}, '{"total": "5.00"}').score == 1.0
    assert score({"total": 5}, '{"total": 5.0}').score == 1.0
    # "25" ends with "5" as a string, but 25 != 5.
    assert score({"total": 5}, '{"total": 25}').score == 0.0


def test_zero_false_and_empty_string_are_values_not_absences():
    assert score({"n": 0, "ok": False, "note": ""}, '{"n": 0, "ok": false, "note": ""}').counts == (3, 0, 0)
    result = score({"n": 0, "ok": False}, '{}')
    assert result.counts == (0, 0, 2)
    # 0 and false are different values.
    assert score({"n": 0}, '{"n": false}').counts == (0, 1, 1)


def test_null_handling_is_configurable_and_consistent():
    assert score({"a": None, "b": 1}, '{"b": 1}').counts == (1, 0, 0)
    assert score({"a": None, "b": 1}, '{"a": null, "b": 1}').counts == (1, 0, 0)
    assert score({"a": None}, '{"a": null}', null_is_missing=False).counts == (1, 0, 0)
    assert score({"a": None}, '{}', null_is_missing=False).counts == (0, 0, 1)


def test_empty_gold_and_empty_prediction_agree():
    result = score({}, "{}")
    assert result.score == 1.0 and result.counts == (0, 0, 0)
    assert score({"items": []}, '{"items": []}', list_fields=["items"]).score == 1.0


def test_list_items_are_matched_optimally_and_kept_grouped():
    gold = {"entities": [{"name": "Ann", "type": "PERSON"}, {"name": "Paris", "type": "CITY"}]}
    swapped = {"entities": [{"name": "Paris", "type": "PERSON"}, {"name": "Ann", "type": "CITY"}]}
    reordered = {"entities": list(reversed(gold["entities"]))}
    assert score(gold, json.dumps(reordered), list_fields=["entities"]).score == 1.0
    # Swapping types between the two entities is two errors, not a perfect score.
    result = score(gold, json.dumps(swapped), list_fields=["entities"])
    # Either pairing (by name or by type) keeps 2 of 4 sub-fields: F1 = 0.5.
    assert result.counts == (2, 2, 2)
    assert result.score == 0.5


def test_duplicate_predictions_are_counted_once():
    gold = {"tags": ["a", "b"]}
    assert score(gold, '{"tags": ["a", "a", "a"]}', list_fields=["tags"]).counts == (1, 0, 1)


def test_currency_and_dates_when_declared():
    rules = {"currency": True, "dates": True}
    assert score({"total": "9.00", "date": "25/12/2018"}, '{"total": "RM 9", "date": "2018-12-25"}',
                 normalize=rules).score == 1.0
    # Without the declared rules they differ.
    assert score({"total": "9.00"}, '{"total": "RM 9"}').score == 0.0
    assert normalize_value("1,234.50", ValueNormalization(currency=True)) == normalize_value(1234.5, ValueNormalization())


def test_canonical_form_lets_differently_formatted_equal_answers_agree():
    s = JsonFields(JsonFieldsScorer(list_fields=["tags"]))
    gold = {"total": 5, "name": "Ann", "tags": ["a", "b"]}
    first, second, third = s.score_items(
        ['{"total": "5.00", "name": " ann", "tags": ["b", "a"]}',
         'Here: {"name": "ANN", "tags": ["a", "b", "a"], "total": 5}',
         '{"total": 6, "name": "Ann", "tags": ["a", "b"]}'],
        [item(gold)] * 3,
    )
    assert first.canonical == second.canonical != third.canonical


def test_fields_option_limits_scored_fields():
    result = score({"a": 1, "b": 2}, '{"a": 1, "b": 3}', fields=["a"])
    assert result.score == 1.0


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-100, 100), st.text(max_size=5))
elements = st.fixed_dictionaries({"name": st.text(max_size=4), "kind": st.sampled_from(["x", "y", "z"])})
records = st.fixed_dictionaries({"a": json_scalars, "b": json_scalars, "items": st.lists(elements, max_size=5)})


@settings(max_examples=60, deadline=None)
@given(records)
def test_gold_against_itself_scores_one(record):
    assert score(record, json.dumps(record), list_fields=["items"]).score == 1.0


@settings(max_examples=60, deadline=None)
@given(records, records, st.randoms(use_true_random=False))
def test_permuting_list_items_never_changes_the_score(gold, pred, random_):
    shuffled = dict(pred, items=random_.sample(pred["items"], len(pred["items"])))
    first = score(gold, json.dumps(pred), list_fields=["items"])
    second = score(gold, json.dumps(shuffled), list_fields=["items"])
    assert first.counts == second.counts


@settings(max_examples=60, deadline=None)
@given(records, records)
def test_f1_is_in_unit_interval_and_duplicates_never_raise_recall(gold, pred):
    base = score(gold, json.dumps(pred), list_fields=["items"])
    assert 0.0 <= base.score <= 1.0
    if pred["items"]:
        doubled = dict(pred, items=pred["items"] + [pred["items"][0]])
        again = score(gold, json.dumps(doubled), list_fields=["items"])
        recall = lambda c: c[0] / (c[0] + c[2]) if c[0] + c[2] else 1.0  # noqa: E731
        assert recall(again.counts) <= recall(base.counts)


# -- real data: SROIE receipt key fields ------------------------------------------------------
SROIE_RULES = {"currency": True, "dates": True}


def _sroie_keys(shared_data, limit=200):
    folder = shared_data / "sroie" / "data" / "key"
    if not folder.is_dir():
        missing(f"SROIE keys not found under {folder}")
    paths = sorted(folder.glob("*.json"))[:limit]
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def test_sroie_gold_against_itself_is_perfect(shared_data):
    keys = _sroie_keys(shared_data)
    s = JsonFields(JsonFieldsScorer(normalize=SROIE_RULES))
    scores = s.score_items([json.dumps(k) for k in keys], [item(k, i) for i, k in enumerate(keys)])
    metric, _ = s.summarize(scores)
    assert metric.value == 1.0


def test_sroie_perturbed_copies_lose_exactly_the_perturbed_fields(shared_data):
    keys = _sroie_keys(shared_data)
    rng = random.Random(3)
    s = JsonFields(JsonFieldsScorer(normalize=SROIE_RULES))
    outputs, expected_wrong = [], 0
    for key in keys:
        copy = dict(key)
        choice = rng.choice(["drop_total", "wrong_total", "reformat", "case"])
        if choice == "drop_total" and "total" in copy:
            del copy["total"]
            expected_wrong += 1
        elif choice == "wrong_total" and "total" in copy:
            copy["total"] = "999999.99"
            expected_wrong += 1
        elif choice == "reformat" and re.fullmatch(r"\d+\.\d+", copy.get("total", "")):
            copy["total"] = "RM " + copy["total"]  # same value once currency is normalised
        elif choice == "case" and "company" in copy:
            copy["company"] = "  " + copy["company"].lower() + " "
        outputs.append("```json\n" + json.dumps(copy) + "\n```")
    scores = s.score_items(outputs, [item(k, i) for i, k in enumerate(keys)])
    per_field = {}
    for sc in scores:
        for field, counts in sc.details["fields"].items():
            per_field.setdefault(field, [0, 0, 0])
            per_field[field] = [a + b for a, b in zip(per_field[field], counts)]
    assert per_field["total"][2] == expected_wrong  # every perturbed total is a miss
    assert per_field["company"][1] == 0 and per_field["date"][1] == 0  # untouched fields all right
    assert expected_wrong > 0


def test_output_nested_too_deeply_is_no_json_not_a_crash():
    # A prediction like this raised RecursionError out of `distilleval score` (traceback).
    assert extract_json("[" * 100_000 + "]" * 100_000) is None
    assert extract_json("```json\n" + "[" * 100_000 + "]" * 100_000 + "\n```") is None
    assert extract_json("here: " + "{\"a\": " * 50_000 + "1" + "}" * 50_000) is None


def test_values_and_field_names_compare_in_unicode_nfc():
    gold = {"city": "Bogot\u00e1", "caf\u00e9": "cr\u00e8me br\u00fbl\u00e9e"}
    decomposed = {"city": "Bogota\u0301", "cafe\u0301": "cre\u0300me bru\u0302le\u0301e"}
    for rules in ({}, {"normalize": ValueNormalization(case=False, whitespace=False, numbers=False)}):
        result = score(gold, json.dumps(decomposed, ensure_ascii=False), **rules)
        assert result.counts == (2, 0, 0), rules
    assert score(gold, json.dumps({"city": "Bogota", "caf\u00e9": "creme brulee"})).counts == (0, 2, 2)
    restricted = score(gold, json.dumps(decomposed, ensure_ascii=False), fields=["cafe\u0301"])
    assert restricted.counts == (1, 0, 0)


# -- pinned by mutation testing (docs/mutation.md): each check below failed to notice a mutant --------------------
DATES = ValueNormalization(dates=True)


@pytest.mark.parametrize(("value", "rules", "expected"), [
    (None, ValueNormalization(), ("null",)),
    (True, ValueNormalization(), ("bool", True)),
    (5, ValueNormalization(numbers=False), ("num", "5")),
    (1, ValueNormalization(), ("num", "1")),
    (100, ValueNormalization(), ("num", "100")),  # not 1E+2
    (-0.0, ValueNormalization(), ("num", "0")),  # one zero, whatever its sign
    ("0.00", ValueNormalization(), ("num", "0")),
    ("1,234", ValueNormalization(), ("str", "1,234")),  # thousands separators only under the currency rule
    ("RM 1,234.50", ValueNormalization(currency=True), ("num", "1234.5")),
    ("10 EUR", ValueNormalization(currency=True), ("num", "10")),
    ([1, "A"], ValueNormalization(), ("list", (("num", "1"), ("str", "a")))),
    ({"K": " X ", "a": 2}, ValueNormalization(), ("dict", (("K", ("str", "x")), ("a", ("num", "2"))))),
    ((1, 2), ValueNormalization(), ("other", "(1, 2)")),
    (" Hello  World ", ValueNormalization(case=False, whitespace=False), ("str", " Hello  World ")),
])
def test_normalize_value_exact_forms(value, rules, expected):
    assert normalize_value(value, rules) == expected


@pytest.mark.parametrize(("text", "rules", "iso"), [
    ("2018-12-25", DATES, "2018-12-25"),
    ("25/12/2018", DATES, "2018-12-25"),
    ("12/25/2018", ValueNormalization(dates=True, day_first=False), "2018-12-25"),
    ("12/25/18", ValueNormalization(dates=True, day_first=False), "2018-12-25"),
    ("25.12.18", DATES, "2018-12-25"),
    ("1/2/69", DATES, "2069-02-01"),  # two-digit years: 00-69 are 20xx, 70-99 are 19xx
    ("1/2/70", DATES, "1970-02-01"),
    ("25  December   2018", DATES, "2018-12-25"),  # runs of spaces collapse first
    ("25-DEC-18", DATES, "2018-12-25"),
    ("5 Sept. 2018", DATES, "2018-09-05"),
    ("December 25, 2018", DATES, "2018-12-25"),
    ("DEC 5 2018", DATES, "2018-12-05"),
])
def test_dates_in_every_supported_spelling(text, rules, iso):
    assert normalize_value(text, rules) == ("date", iso)


@pytest.mark.parametrize("text", ["31/02/2020", "25 Foo 2018", "Foo 25, 2018", "December", "13/13/2018"])
def test_strings_that_are_no_date_stay_strings(text):
    assert normalize_value(text, DATES) == ("str", text.casefold())


def test_a_later_fence_is_tried_when_an_earlier_one_is_not_json():
    text = '```json\n{bad}\n``` then {"a": 1} and ```json\n{"b": 2}\n```'
    assert extract_json(text) == {"b": 2}


def test_item_score_fields_for_right_wrong_unparseable_and_missing_outputs():
    gold = {"b": 2, "a": 1}
    perfect = score(gold, '{"a": 1, "b": 2.0}')
    assert (perfect.score, perfect.valid, perfect.reason) == (1.0, True, None)
    wrong = score(gold, '{"b": 3, "a": 1}')
    assert (wrong.valid, wrong.reason, wrong.counts) == (True, "wrong_fields", (1, 1, 1))
    # The canonical form lists the normalised fields sorted by name, whatever order the gold has.
    assert wrong.canonical == '{"a": "(\'num\', \'1\')", "b": "(\'num\', \'3\')"}'
    assert wrong.details["fields"] == {"b": (0, 1, 1), "a": (1, 0, 0)}
    broken = score(gold, "no json")
    assert (broken.score, broken.valid, broken.reason, broken.canonical) == (0.0, False, "parse_error", None)
    missing_output = score(gold, None)
    assert (missing_output.score, missing_output.valid, missing_output.reason) == (0.0, False, "no_output")
    assert missing_output.counts == (0, 0, 2)


def test_a_value_where_the_gold_has_none_is_one_false_positive_of_that_field():
    result = score({"a": None, "b": 1}, '{"a": 5, "b": 1}')
    assert result.details["fields"] == {"a": (0, 1, 0), "b": (1, 0, 0)}


def test_list_field_counts_per_sub_field_for_matched_and_unmatched_elements():
    gold = {"ents": [{"n": "Ann", "t": "P"}, {"n": "Bob", "t": "P"}]}
    pred = {"ents": [{"n": "Ann", "t": "P"}, {"n": "Zed", "t": "Q"}, {"n": "Cy", "t": "R"}]}
    result = score(gold, json.dumps(pred), list_fields=["ents"])
    # Ann is matched (2 TP); Bob shares no sub-field with Zed or Cy, so no pair is formed with
    # either: Bob is 2 FN and Zed and Cy are 4 FP, each counted under its sub-field's name.
    assert result.details["fields"] == {"ents.n": (1, 2, 1), "ents.t": (1, 2, 1)}
    assert json.loads(result.canonical)["ents"] == sorted(
        repr(sorted({"n": ("str", name), "t": ("str", kind)}.items())) for name, kind in
        [("ann", "p"), ("zed", "q"), ("cy", "r")])


def test_sub_fields_only_one_side_of_a_matched_pair_has_are_one_sided_errors():
    extra = score({"ents": [{"n": "Ann"}]}, '{"ents": [{"n": "Ann", "t": "P"}]}', list_fields=["ents"])
    assert extra.details["fields"] == {"ents.n": (1, 0, 0), "ents.t": (0, 1, 0)}
    lacking = score({"ents": [{"n": "Ann", "t": "P"}]}, '{"ents": [{"n": "Ann"}]}', list_fields=["ents"])
    assert lacking.details["fields"] == {"ents.n": (1, 0, 0), "ents.t": (0, 0, 1)}


def test_scalar_list_fields_count_under_the_field_name_and_a_lone_value_is_a_list_of_one():
    result = score({"tags": ["a", "b"]}, '{"tags": ["a", "c"]}', list_fields=["tags"])
    assert result.details["fields"] == {"tags": (1, 1, 1)}
    assert score({"tags": "a"}, '{"tags": ["a"]}', list_fields=["tags"]).counts == (1, 0, 0)


def test_gold_given_as_a_json_string_is_parsed_and_a_non_object_is_refused():
    s = JsonFields(JsonFieldsScorer())
    assert s.score_items(['{"a": 1}'], [item('{"a": 1}')])[0].score == 1.0
    for bad in ("[1, 2]", "not json"):
        with pytest.raises(DataError, match=r"^item '0' \(line 0\): gold is not a JSON object$"):
            s.score_items(['{"a": 1}'], [item(bad)])
