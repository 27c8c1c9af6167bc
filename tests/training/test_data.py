"""Short-format training JSONL: validation with file:line:field messages, supervised examples."""

import json

import pytest

from distilleval.backends.tinker.rendering import ChatRenderer
from distilleval.errors import DataError
from distilleval.testing.byte_tokenizers import byte_tokenizer_for
from distilleval.training.data import build_examples, read_conversations


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def row(user="Where is my parcel?", label="shipping", **extra):
    return json.dumps({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": label}], **extra})


def test_reads_rows_with_their_line_numbers_skipping_blank_lines(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [row(), "", row(label="billing")])
    rows = read_conversations(path)
    assert [r.line for r in rows] == [1, 3]
    assert rows[1].messages[-1].content == "billing"


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", r"train.jsonl:2: not valid JSON"),
        ("[1, 2]", r"train.jsonl:2: expected a JSON object"),
        ('{"text": "x"}', r"train.jsonl:2: messages: required field is missing"),
        ('{"messages": []}', r"train.jsonl:2: messages: expected a non-empty list"),
        ('{"messages": [{"role": "user", "content": "x"}]}', r"train.jsonl:2: messages\[0\]\.role: the last turn must be the assistant"),
        ('{"messages": [{"role": "bot", "content": "x"}]}', r"train.jsonl:2: messages\[0\]\.role: expected one of system, user, assistant, found 'bot'"),
        ('{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}', r"messages\[0\]\.content: expected a string, found int"),
        ('{"messages": [{"role": "user", "content": "x", "name": "n"}, {"role": "assistant", "content": "a"}]}', r"messages\[0\]: unknown key 'name'"),
        ('{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "  "}]}', r"messages\[1\]\.content: the label is empty"),
        ('{"messages": [{"role": "assistant", "content": "a"}]}', r"messages: there is no user turn"),
        ('{"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}', r"messages\[1\]\.role: a system turn must come before"),
    ],
)
def test_malformed_rows_name_file_line_and_field(tmp_path, line, message):
    path = write_lines(tmp_path / "train.jsonl", [row(), line, row()])
    with pytest.raises(DataError, match=message):
        read_conversations(path)


def test_empty_file_is_an_error(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", ["", "  "])
    with pytest.raises(DataError, match=r"train.jsonl: the training data file has no rows"):
        read_conversations(path)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="training data file not found"):
        read_conversations(tmp_path / "nope.jsonl")


def test_examples_weight_zero_on_prompt_one_on_label():
    tok = byte_tokenizer_for("qwen3")
    renderer = ChatRenderer("qwen3_instruct", tok)
    from distilleval.backends.tinker.rendering import Message
    from distilleval.training.data import Conversation

    convo = Conversation(line=7, messages=(Message("user", "Hi"), Message("assistant", "ok")))
    (example,) = build_examples([convo], renderer, source=None)
    assert example.line == 7
    assert len(example.tokens) == len(example.weights)
    # "ok" (2 bytes) + <|im_end|> are the only trained tokens.
    assert example.trained_tokens == 3
    trained = [t for t, w in zip(example.tokens, example.weights) if w == 1.0]
    assert tok.decode(trained) == "ok<|im_end|>"
    first_trained = example.weights.index(1.0)
    assert tok.decode(example.tokens[:first_trained]) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_overlong_row_names_its_line(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [row(), row(user="x" * 500)])
    renderer = ChatRenderer("qwen3_instruct", byte_tokenizer_for("qwen3"))
    with pytest.raises(DataError, match=r"train.jsonl:2: messages: \d+ tokens is over the limit of 100"):
        build_examples(read_conversations(path), renderer, source=path, max_tokens=100)
