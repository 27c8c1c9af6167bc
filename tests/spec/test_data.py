"""Loading a spec's data: splits, gold parsing, and bad records named by file, line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distilleval.errors import DataError
from distilleval.spec.data import assign_split, load_items, split_items
from distilleval.spec.task_spec import SplitSpec, load_spec

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"


def _spec_with_data(tmp_path: Path, lines: list[str], *, extra: str = "", name: str = "data.jsonl"):
    (tmp_path / "rubric.md").write_text((TINY / "rubric.md").read_text())
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    spec_text = (TINY / "spec.yaml").read_text().replace("path: data.jsonl", f"path: {name}") + extra
    (tmp_path / "spec.yaml").write_text(spec_text)
    return load_spec(tmp_path / "spec.yaml")


def _row(**fields) -> str:
    base = {"id": "a", "message": "hi", "label": "billing", "split": "train"}
    base.update(fields)
    return json.dumps(base)


def test_tiny_items_and_splits(tiny_spec_path):
    items = load_items(load_spec(tiny_spec_path))
    assert [i.id for i in split_items(items, "train")] == ["t1", "t2", "t3"]
    assert [i.id for i in split_items(items, "eval")] == ["t4", "t5", "t6"]
    assert items[0].inputs == {"text": "I was charged twice this month"} and items[0].gold == "billing"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([_row(), "{not json"], ":2: not valid JSON"),
        ([_row(), "[1, 2]"], ":2: expected a JSON object, found list"),
        ([_row(), _row(id="b", message=None)], ":2: column 'message' (input field 'text') is missing"),
        ([_row(), _row()], ":2: duplicate id 'a' (first on line 1)"),
        ([_row(split="holdout")], ":1: column 'split': split 'holdout' is neither a train value"),
        ([""], "the data file has no records"),
    ],
)
def test_bad_records_name_file_and_line(tmp_path, lines, expected):
    spec = _spec_with_data(tmp_path, lines)
    with pytest.raises(DataError) as caught:
        load_items(spec)
    assert str(tmp_path / "data.jsonl") in str(caught.value) and expected in str(caught.value)


def test_csv_lines_count_the_header(tmp_path):
    spec = _spec_with_data(tmp_path, ["id,message,label,split", "a,hello,billing,train", "b,,billing,test"], name="data.csv")
    items = load_items(spec)
    assert [item.line for item in items] == [2, 3]


def test_json_gold_is_parsed_for_json_tasks(tmp_path):
    spec = _spec_with_data(tmp_path, [_row(label='{"name": "Ana"}')])
    spec = spec.model_copy(update={"output": spec.output.model_copy(update={"kind": "json", "labels": None})})
    assert load_items(spec)[0].gold == {"name": "Ana"}


def test_hash_split_is_stable_and_near_the_fraction():
    split = SplitSpec(eval_fraction=0.3, seed=7)
    assignments = [assign_split(f"item-{n}", split) for n in range(2000)]
    assert assignments == [assign_split(f"item-{n}", split) for n in range(2000)]
    assert 0.26 < assignments.count("eval") / 2000 < 0.34
    assert assign_split("item-1", SplitSpec(eval_fraction=0.3, seed=8)) in ("eval", "train")
