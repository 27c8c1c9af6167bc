"""Loading a spec's data: splits, gold parsing, and bad records named by file, line and column."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from distilleval.errors import DataError
from distilleval.spec.data import Item, assign_split, canonical_order, load_items, order_key, split_items
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
    assert sorted(i.id for i in split_items(items, "train")) == ["t1", "t2", "t3"]
    assert sorted(i.id for i in split_items(items, "eval")) == ["t4", "t5", "t6"]
    first = next(item for item in items if item.line == 1)
    assert first.inputs == {"text": "I was charged twice this month"} and first.gold == "billing"


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
    assert sorted(item.line for item in items) == [2, 3]


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


def _label_spec(tmp_path: Path, lines: list[str], *, normalize: str = "", name: str = "data.jsonl"):
    extra = f"\n  normalize: {{{normalize}}}" if normalize else ""
    spec = _spec_with_data(tmp_path, lines, name=name)
    text = (tmp_path / "spec.yaml").read_text().replace("scorer: exact_match", "scorer:\n  kind: exact_match" + extra)
    (tmp_path / "spec.yaml").write_text(text)
    return load_spec(tmp_path / "spec.yaml") if normalize else spec


@pytest.mark.parametrize("split", ["train", "test"])
def test_gold_outside_the_label_set_is_refused_in_every_split(tmp_path, split):
    # A train row would otherwise become a new class for the baselines; an eval row would fail
    # only after training, without naming the file.
    spec = _label_spec(tmp_path, [_row(), _row(id="b", label="refunds", split=split)])
    with pytest.raises(DataError) as caught:
        load_items(spec)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'data.jsonl'}:2: column 'label': gold 'refunds' is not one of output.labels")
    assert "billing, technical, other" in message and "\n" not in message


def test_gold_is_stored_as_the_label_it_names_under_the_scorers_rules(tmp_path):
    spec = _label_spec(tmp_path, [_row(label="Billing!")], normalize="case: true, punctuation: true")
    assert load_items(spec)[0].gold == "billing"



def test_without_declared_normalisation_a_differently_spelt_gold_is_refused(tmp_path):
    spec = _label_spec(tmp_path, [_row(label="Billing!")])
    with pytest.raises(DataError, match="gold 'Billing!' is not one of output.labels"):
        load_items(spec)


def test_misspelt_gold_column_is_refused_at_the_specs_line_with_the_columns_found(tmp_path):
    _spec_with_data(tmp_path, [_row(), _row(id="b")])
    path = tmp_path / "spec.yaml"
    path.write_text(path.read_text().replace("gold: label", "gold: intent"))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "gold: intent" in text)
    with pytest.raises(DataError) as caught:
        load_items(load_spec(path))
    assert str(caught.value) == (f"{path}:{line}: data.gold: column 'intent' is in no record of {tmp_path / 'data.jsonl'}; "
                                 "its columns are id, message, label, split")


def test_an_unlabelled_pool_may_lack_the_gold_column(tmp_path):
    spec = _spec_with_data(tmp_path, [_row()])
    (tmp_path / "pool.jsonl").write_text(json.dumps({"id": "p1", "message": "hello", "split": "train"}) + "\n")
    assert load_items(spec, path=tmp_path / "pool.jsonl")[0].gold is None


@pytest.mark.parametrize("name", ["data.csv", "data.jsonl"])
def test_files_saved_with_a_utf8_byte_order_mark_load(tmp_path, name):
    # Spreadsheets' "CSV UTF-8" starts with U+FEFF, which used to become part of the 'id' column name.
    if name.endswith(".csv"):
        lines = ["id,message,label,split", "a,hello,billing,train"]
    else:
        lines = [_row()]
    spec = _spec_with_data(tmp_path, lines, name=name)
    path = tmp_path / name
    path.write_bytes("\ufeff".encode() + path.read_bytes())
    (item,) = load_items(spec)
    assert item.id == "a" and item.gold == "billing"


def test_max_field_chars_is_configurable_in_the_spec(tmp_path):
    # One runaway 100 MB field once made an offline run grow to 20 GB; now a limit stops it at load.
    lines = [_row(id="a", message="x" * 30)]
    spec = _spec_with_data(tmp_path, lines)
    assert load_items(spec)[0].inputs["text"] == "x" * 30
    text = (tmp_path / "spec.yaml").read_text().replace("  split: {column: split}\n", "  split: {column: split}\n  max_field_chars: 20\n")
    (tmp_path / "spec.yaml").write_text(text)
    with pytest.raises(DataError, match=r"data.jsonl:1: column 'message': 30 characters, over data.max_field_chars \(20\)"):
        load_items(load_spec(tmp_path / "spec.yaml"))


def test_gold_over_max_field_chars_is_refused(tmp_path):
    (tmp_path / "rubric.md").write_text((TINY / "rubric.md").read_text())
    (tmp_path / "data.jsonl").write_text(_row(id="a", label="billing" * 10) + "\n")
    text = (TINY / "spec.yaml").read_text().replace("  split: {column: split}\n", "  split: {column: split}\n  max_field_chars: 20\n")
    (tmp_path / "spec.yaml").write_text(text)
    with pytest.raises(DataError, match=r"data.jsonl:1: column 'label': 70 characters, over data.max_field_chars"):
        load_items(load_spec(tmp_path / "spec.yaml"))


def test_json_nested_too_deeply_is_a_data_error_not_a_recursion_error(tmp_path):
    lines = [_row(id="a"), '{"id": "b", "message": ' + "[" * 100_000 + "]" * 100_000 + "}"]
    spec = _spec_with_data(tmp_path, lines)
    with pytest.raises(DataError, match=r"data.jsonl:2: JSON nested too deeply to read"):
        load_items(spec)


def _banking77_spec(tmp_path: Path, shared_data: Path, *, flow_list: bool) -> Path:
    """BANKING77 as a new user would set it up: the CSV saved by a spreadsheet (with a BOM)."""
    import csv

    rows = []
    for split in ("train", "test"):
        with (shared_data / "banking77" / f"{split}.csv").open(encoding="utf-8") as handle:
            rows += [{"id": f"{split}-{n}", "text": r["text"], "category": r["category"], "split": split}
                     for n, r in enumerate(csv.DictReader(handle))]
    with (tmp_path / "data.csv").open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text", "category", "split"])
        writer.writeheader()
        writer.writerows(rows)
    labels = json.loads((shared_data / "banking77" / "categories.json").read_text())
    listed = ("[" + ", ".join(labels) + "]\n") if flow_list else "\n" + "".join(f'    - "{label}"\n' for label in labels)
    (tmp_path / "spec.yaml").write_text(
        "name: banking77\ndata:\n  path: data.csv\n  input: {text: text}\n  gold: category\n  id: id\n"
        "  split: {column: split}\noutput:\n  kind: label\n  labels: " + listed
        + 'teacher: {model: openai/gpt-5.2, prompt: "Classify: {text}"}\nstudent: {model: tinker://b/s/final, prompt: "{text}"}\n'
    )
    return tmp_path / "spec.yaml"


def test_banking77_from_a_spreadsheet_loads_with_every_gold_a_label(tmp_path, shared_data):
    items = load_items(load_spec(_banking77_spec(tmp_path, shared_data, flow_list=False)))
    assert len(split_items(items, "train")) == 10_003 and len(split_items(items, "eval")) == 3_080
    assert "reverted_card_payment?" in {item.gold for item in items}


def test_the_yaml_flow_list_trap_is_named_at_its_line(tmp_path, shared_data):
    # `reverted_card_payment?` unquoted in a flow list is not valid YAML (README: quote it or use a block list).
    from distilleval.errors import SpecError

    path = _banking77_spec(tmp_path, shared_data, flow_list=True)
    with pytest.raises(SpecError, match=r"spec.yaml:10: not valid YAML \(expected ',' or '\]', but got '\?'\)"):
        load_spec(path)


def test_an_image_path_too_long_for_the_file_system_is_a_data_error(tmp_path):
    spec = _spec_with_data(tmp_path, [_row(id="a", message="y" * 5000)])
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"image_inputs": ["text"]})})
    with pytest.raises(DataError, match=r"data.jsonl:1: column 'message': not a usable image path \(File name too long\)"):
        load_items(spec)


def _image_spec(tmp_path: Path, image: str):
    spec = _spec_with_data(tmp_path, [_row(id="a", message=image)])
    return spec.model_copy(update={"data": spec.data.model_copy(update={"image_inputs": ["text"]})})


def test_an_empty_or_unreadable_image_is_refused_at_load(tmp_path):
    (tmp_path / "blank.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"data.jsonl:1: column 'message': image .*blank.png is an empty file"):
        load_items(_image_spec(tmp_path, "blank.png"))
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(DataError, match=r"data.jsonl:1: column 'message': image not found: .*folder.png"):
        load_items(_image_spec(tmp_path, "folder.png"))
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n")
    [item] = load_items(_image_spec(tmp_path, "photo.png"))
    assert item.inputs["text"] == str((tmp_path / "photo.png").resolve())


def test_a_decomposed_gold_label_loads_as_the_composed_label(tmp_path):
    spec = _spec_with_data(tmp_path, [_row(id="a", label="cafe\u0301"), _row(id="b", label="caf\u00e9")])
    spec = spec.model_copy(update={"output": spec.output.model_copy(update={"labels": ["billing", "caf\u00e9"]})})
    assert [item.gold for item in load_items(spec)] == ["caf\u00e9", "caf\u00e9"]


def test_a_pool_without_the_split_column_is_all_to_label(tmp_path):
    spec = _spec_with_data(tmp_path, [_row(id="a")])
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"id": "p1", "message": "hello"}) + "\n")
    [item] = load_items(spec, path=pool)
    assert (item.id, item.split, item.gold) == ("p1", "train", None)


def _without_ids(tmp_path: Path, rows: list[dict]):
    """The tiny spec over ``rows``, with no id column and a stable hash split."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    _spec_with_data(tmp_path, [json.dumps(row) for row in rows])
    text = (tmp_path / "spec.yaml").read_text()
    assert "  id: id\n" in text and "split: {column: split}" in text
    (tmp_path / "spec.yaml").write_text(text.replace("  id: id\n", "")
                                        .replace("split: {column: split}", "split: {eval_fraction: 0.4, seed: 3}"))
    return load_spec(tmp_path / "spec.yaml")


ROWS = [{"message": f"message {i} about {'billing' if i % 2 else 'technical'}", "label": "billing" if i % 2 else "technical"}
        for i in range(40)]


def test_without_an_id_column_an_item_is_named_by_its_content(tmp_path):
    items = load_items(_without_ids(tmp_path / "a", ROWS + [ROWS[0]]))
    ids = {item.id for item in items}
    assert len(ids) == 41 and all(re.fullmatch(r"row-[0-9a-f]{12}(-2)?", item_id) for item_id in ids)
    copies = [item for item in items if item.inputs == {"text": ROWS[0]["message"]}]
    assert sorted(item.id for item in copies) == [copies[0].id.removesuffix("-2"), copies[0].id.removesuffix("-2") + "-2"]


@pytest.mark.parametrize("with_ids", [True, False])
def test_permuting_the_rows_gives_the_same_items_in_the_same_order(tmp_path, with_ids):
    """Ids, splits and the order ``load_items`` returns do not depend on where a row sits in the file."""
    rows = [dict(row, id=f"r{i}", split="train" if i % 3 else "test") for i, row in enumerate(ROWS)] if with_ids else ROWS

    def load(folder: Path, ordered: list[dict]):
        if with_ids:
            folder.mkdir(parents=True)
            return load_items(_spec_with_data(folder, [json.dumps(row) for row in ordered]))
        return load_items(_without_ids(folder, ordered))

    original = [(item.id, item.split, item.inputs, item.gold) for item in load(tmp_path / "original", rows)]
    assert {split for _, split, _, _ in original} == {"train", "eval"}
    for seed in (1, 2, 3):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert shuffled != rows
        again = [(item.id, item.split, item.inputs, item.gold) for item in load(tmp_path / f"shuffle-{seed}", shuffled)]
        assert again == original


def test_canonical_order_is_a_hash_of_the_id_and_a_salt_gives_another():
    items = [Item(id=f"i{n}", inputs={}) for n in range(50)]
    first = canonical_order(items)
    assert canonical_order(list(reversed(items))) == first and first != items
    assert canonical_order(items, salt="other") != first
    assert [item.id for item in first] == sorted((item.id for item in items), key=order_key)


def test_loading_holds_the_items_not_the_parsed_file_beside_them(tmp_path):
    import tracemalloc

    rows = [_row(id=f"r{n}", message=f"message {n} about a card that never arrived", split="train" if n % 5 else "test")
            for n in range(2000)]
    spec = _spec_with_data(tmp_path, rows)
    tracemalloc.start()
    try:
        items = load_items(spec)
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(items) == 2000
    # Rows stream into items: every parsed row held until the last was built made this 2.1.
    assert peak < 1.5 * retained, (peak, retained)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # An unreadable line after a bad row is still reported first, as when the whole file is read first.
        ([_row(), _row(id="b", message=None), "{not json"], ":3: not valid JSON"),
        # A gold column in no record is reported before the first bad row (row 1 lacks its message).
        ([json.dumps({"id": "a", "split": "train"}), json.dumps({"id": "b", "message": "hi", "split": "train"})],
         "data.gold: column 'label' is in no record"),
        ([_row(id="a"), _row(id="b", message=None), _row(id="a")], ":2: column 'message' (input field 'text') is missing"),
    ],
)
def test_problems_are_reported_in_the_order_of_a_whole_file_read(tmp_path, lines, expected):
    spec = _spec_with_data(tmp_path, lines)
    with pytest.raises(DataError) as caught:
        load_items(spec)
    assert expected in str(caught.value)
