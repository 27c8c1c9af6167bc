"""YAML loading with line numbers, and the limits that keep hostile files from costing time or memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from distilleval.errors import SpecError
from distilleval.spec.yaml_source import MAX_DEPTH, load_yaml_with_lines


def _load(tmp_path: Path, text: str, **limits):
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    return load_yaml_with_lines(path, SpecError, **limits)


def test_lines_are_remembered_per_field(tmp_path):
    data, lines = _load(tmp_path, "name: x\nteacher:\n  model: m\n  stop: [a, b]\n")
    assert data == {"name": "x", "teacher": {"model": "m", "stop": ["a", "b"]}}
    assert lines.line_of(("teacher", "model")) == 3
    assert lines.line_of(("teacher", "stop", 1)) == 4


def test_a_duplicate_key_names_both_lines(tmp_path):
    # Plain YAML lets the second `name:` win silently; a run must not change that way.
    with pytest.raises(SpecError, match=r"file.yaml:3: name: duplicate key \(first on line 1\)"):
        _load(tmp_path, "name: first\ndescription: d\nname: second\n")


def test_the_same_key_in_different_mappings_is_fine(tmp_path):
    data, _ = _load(tmp_path, "teacher: {model: a}\nstudent: {model: b}\n")
    assert data["student"]["model"] == "b"


@pytest.mark.parametrize("text", [
    "a: " + "[" * 1000 + "]" * 1000,                                    # flow style
    "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "x: 1\n",  # block style
])
def test_deep_nesting_is_refused_without_recursion_error(tmp_path, text):
    with pytest.raises(SpecError, match=f"nested more than {MAX_DEPTH} levels deep"):
        _load(tmp_path, text)


def test_nesting_within_the_limit_loads(tmp_path):
    data, _ = _load(tmp_path, "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    assert isinstance(data["a"], list)


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    # 10 aliases of 10 aliases ... nine levels deep: 10**9 values once expanded.
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
    )
    with pytest.raises(SpecError, match=r"file.yaml:5: more than 20,000 values \(aliases expanded\)"):
        _load(tmp_path, text)


def test_small_aliases_and_merge_keys_still_work(tmp_path):
    data, lines = _load(tmp_path, "base: &b {model: m, max_tokens: 3}\nteacher:\n  <<: *b\n  model: n\n")
    assert data["teacher"] == {"model": "n", "max_tokens": 3}
    assert lines.line_of(("teacher", "model")) == 4


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    with pytest.raises(SpecError, match="an alias refers to the mapping or list that contains it"):
        _load(tmp_path, "a: &a [1, *a]\n")


def test_too_many_values_are_refused_early(tmp_path):
    with pytest.raises(SpecError, match="file.yaml:1: more than 50 values"):
        _load(tmp_path, "a: [" + ", ".join(["1"] * 100) + "]\n", max_values=50)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    with pytest.raises(SpecError, match=r"file.yaml: file too large \(over 100 bytes"):
        _load(tmp_path, "description: '" + "x" * 200 + "'\n", max_bytes=100)


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "file.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert load_yaml_with_lines(path, SpecError)[0] == {"name": "x"}


def test_non_utf8_bytes_are_one_clean_error(tmp_path):
    path = tmp_path / "file.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError, match=r"file.yaml: not UTF-8 text \(byte 9"):
        load_yaml_with_lines(path, SpecError)


def test_a_nul_byte_is_a_clean_error(tmp_path):
    # PyYAML rejects it while the loader is built, before parsing starts.
    with pytest.raises(SpecError, match=r"file.yaml:2: not valid YAML \(character 0x0000 is not allowed\)"):
        _load(tmp_path, "name: x\n\x00description: y\n")


@pytest.mark.parametrize(
    "text, message",
    [
        # banking77's `reverted_card_payment?` unquoted in a flow list: the `?` stops the parser.
        ("output:\n  labels: [card_arrival, reverted_card_payment?, top_up]\n",
         "file.yaml:2: not valid YAML (expected ',' or ']', but got '?'); "
         'if reverted_card_payment? is text, quote it: "reverted_card_payment?"'),
        ("teacher:\n  prompt: ? what is this\n",
         'file.yaml:2: not valid YAML (mapping keys are not allowed here); if ? what is this is text, '
         'quote it: "? what is this"'),
        ("stop:\n  - @end\n",
         "file.yaml:2: not valid YAML (found character '@' that cannot start any token); "
         'if @end is text, quote it: "@end"'),
        ("system: Answer: yes or no  # the rubric\n",
         "file.yaml:1: not valid YAML (mapping values are not allowed here); "
         'if Answer: yes or no is text, quote it: "Answer: yes or no"'),
        ('name: "x" y\n',
         "file.yaml:1: not valid YAML (expected <block end>, but found '<scalar>'); "
         'if "x" y is text, quote it: "\\"x\\" y"'),
    ],
)
def test_a_value_yaml_reads_as_syntax_is_named_with_how_to_quote_it(tmp_path, text, message):
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, text)
    assert str(caught.value) == f"{tmp_path / message}"


@pytest.mark.parametrize("text", ["name: [unclosed\n", "\tname: tabs\n"])
def test_an_error_outside_any_value_gets_no_quoting_advice(tmp_path, text):
    with pytest.raises(SpecError, match="not valid YAML") as caught:
        _load(tmp_path, text)
    assert "quote" not in str(caught.value)
