"""`distilleval import-logs`: logged teacher calls back into the spec's rows and labels.

Logs are made the way production makes them: each item rendered with the spec's own
``build_messages``, written as chat request/response pairs or as OpenAI Batch API input and
output files, the teacher's answer in the response. Importing them must give back exactly the
items' inputs and labels, refuse eval items, and stop at a prompt the template cannot read.
"""

import json

import pytest

from distilleval.cli.main import main
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import load_pricing
from distilleval.spec.data import load_items
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import load_spec

LABELS = ["billing", "shipping", "technical"]
USAGE = {"prompt_tokens": 120, "completion_tokens": 2}
PRICE_AS = "openai/gpt-4.1-mini"


def write_spec(tmp_path, *, prompt="Ticket from {customer}:\\n{text}\\nAnswer with one label."):
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i in range(60):
            text = f"order {i} {{weird}} text\nsecond line" if i % 7 else f"Answer with one label. {i}"
            handle.write(json.dumps({"id": f"t{i}", "message": text, "who": f"cust{i % 5}", "label": LABELS[i % 3]}) + "\n")
    (tmp_path / "spec.yaml").write_text(f"""\
name: routing
data:
  path: data.jsonl
  input: {{text: message, customer: who}}
  gold: label
  id: id
  split: {{eval_fraction: 0.25}}
output: {{kind: label, labels: [billing, shipping, technical]}}
scorer: {{kind: exact_match, normalize: {{case: true, whitespace: true}}}}
teacher:
  model: openai/gpt-4.1-mini
  system: "You route support tickets. Labels: billing, shipping, technical."
  prompt: "{prompt}"
student:
  model: tinker://run/sampler_weights/final
  prompt: "{{text}}"
""")
    return tmp_path / "spec.yaml"


def completion(answer):
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4.1-mini-2025-04-14",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": dict(USAGE)}


def logged_items(spec_path, split):
    spec = load_spec(spec_path)
    return spec, [item for item in load_items(spec) if item.split == split]


def write_chat_log(path, spec, items, answer=lambda item: item.gold):
    with path.open("w") as handle:
        for item in items:
            request = {"model": "gpt-4.1-mini", "messages": list(build_messages(spec.teacher, item)), "temperature": 0}
            handle.write(json.dumps({"request": request, "response": completion(answer(item))}) + "\n")


def write_batch_logs(folder, spec, items, answer=lambda item: item.gold):
    inputs, outputs = folder / "batch_input.jsonl", folder / "batch_output.jsonl"
    with inputs.open("w") as handle:
        for n, item in enumerate(items):
            body = {"model": "gpt-4.1-mini", "messages": list(build_messages(spec.teacher, item))}
            handle.write(json.dumps({"custom_id": f"req-{n}", "method": "POST", "url": "/v1/chat/completions", "body": body}) + "\n")
    with outputs.open("w") as handle:  # results come back in any order
        for n, item in reversed(list(enumerate(items))):
            response = {"status_code": 200, "request_id": f"r{n}", "body": completion(answer(item))}
            handle.write(json.dumps({"id": f"batch_req_{n}", "custom_id": f"req-{n}", "response": response, "error": None}) + "\n")
    return [outputs, inputs]


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("log_format", ["chat", "batch"])
def test_round_trip_gives_back_the_same_rows_and_labels(tmp_path, log_format, capsys):
    spec_path = write_spec(tmp_path)
    spec, train = logged_items(spec_path, "train")
    if log_format == "chat":
        logs = [tmp_path / "calls.jsonl"]
        write_chat_log(logs[0], spec, train)
    else:
        logs = write_batch_logs(tmp_path, spec, train)
    out = tmp_path / "out" / "imported.jsonl"

    assert main(["import-logs", str(spec_path), *map(str, logs), "--out", str(out)]) == 0

    rows = read_jsonl(tmp_path / "out" / "imported.rows.jsonl")
    expected = {(item.inputs["text"], item.inputs["customer"], item.gold) for item in train}
    assert {(row["message"], row["who"], row["teacher_label"]) for row in rows} == expected
    assert len(rows) == len(train)
    training = read_jsonl(out)  # label's short format: the student's prompt, then the label
    by_text = {item.inputs["text"]: item.gold for item in train}
    assert {(r["messages"][0]["content"], r["messages"][-1]["content"]) for r in training} == set(by_text.items())
    summary = json.loads((tmp_path / "out" / "imported.summary.json").read_text())
    price = load_pricing().price_for(PRICE_AS)
    per_call = request_cost_usd(price, USAGE["prompt_tokens"], USAGE["completion_tokens"], batch=log_format == "batch")
    assert summary["imported"] == len(train) and summary["dropped"] == 0 and summary["spent_usd"] == 0
    assert summary["labels_cost_usd"] == pytest.approx(per_call * len(train))
    assert summary["answering_models"] == {"gpt-4.1-mini-2025-04-14": len(train)}
    printed = capsys.readouterr().out
    assert f"imported {len(train)} rows" in printed and "note:" not in printed  # gpt-4.1-mini is the spec's teacher


def test_training_output_is_accepted_by_the_training_data_reader(tmp_path):
    from distilleval.training.data import read_conversations

    spec_path = write_spec(tmp_path)
    spec, train = logged_items(spec_path, "train")
    write_chat_log(tmp_path / "calls.jsonl", spec, train)
    assert main(["import-logs", str(spec_path), str(tmp_path / "calls.jsonl"), "--out", str(tmp_path / "t.jsonl")]) == 0
    assert len(read_conversations(tmp_path / "t.jsonl")) == len(train)


def test_a_changed_template_is_one_line_naming_the_first_failing_log_line(tmp_path, capsys):
    spec_path = write_spec(tmp_path)
    spec, train = logged_items(spec_path, "train")
    write_chat_log(tmp_path / "calls.jsonl", spec, train)
    changed = write_spec(tmp_path, prompt="Ticket ({customer}): {text}\\nOne label please.")
    out = tmp_path / "t.jsonl"

    assert main(["import-logs", str(changed), str(tmp_path / "calls.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{tmp_path / 'calls.jsonl'}:1: messages: the logged prompt does not match" in err
    assert not out.exists() and not (tmp_path / "t.summary.json").exists()  # nothing half-written


def test_eval_items_in_the_logs_are_refused_for_training(tmp_path):
    spec_path = write_spec(tmp_path)
    spec, train = logged_items(spec_path, "train")
    _, evaluation = logged_items(spec_path, "eval")
    assert evaluation
    write_chat_log(tmp_path / "calls.jsonl", spec, train + evaluation)
    out = tmp_path / "t.jsonl"

    assert main(["import-logs", str(spec_path), str(tmp_path / "calls.jsonl"), "--out", str(out)]) == 0
    texts = {row["message"] for row in read_jsonl(tmp_path / "t.rows.jsonl")}
    assert texts == {item.inputs["text"] for item in train}
    dropped = read_jsonl(tmp_path / "t.dropped.jsonl")
    assert [d["reason"] for d in dropped] == ["eval_leak"] * len(evaluation)
    assert json.loads((tmp_path / "t.summary.json").read_text())["reasons"] == {"eval_leak": len(evaluation)}


def test_duplicates_conflicts_and_bad_answers_are_dropped_with_their_reason(tmp_path):
    spec_path = write_spec(tmp_path)
    spec, train = logged_items(spec_path, "train")
    first, second, third = train[:3]
    write_chat_log(tmp_path / "a.jsonl", spec, train)
    # again: the same answers (duplicates), one other label (conflict), one answer outside the label set
    answers = {first.id: first.gold, second.id: LABELS[(LABELS.index(second.gold) + 1) % 3], third.id: "no idea"}
    write_chat_log(tmp_path / "b.jsonl", spec, [first, second, third], answer=lambda item: answers[item.id])
    out = tmp_path / "t.jsonl"

    assert main(["import-logs", str(spec_path), str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--out", str(out)]) == 0
    summary = json.loads((tmp_path / "t.summary.json").read_text())
    assert summary["reasons"] == {"unparseable_answer": 1, "duplicate": 1, "conflicting_labels": 2}
    assert summary["imported"] == len(train) - 1  # the conflicting item is not trained on
    assert second.inputs["text"] not in {row["message"] for row in read_jsonl(tmp_path / "t.rows.jsonl")}


def test_the_files_do_not_depend_on_the_order_of_the_log_lines(tmp_path):
    spec_path = write_spec(tmp_path)
    spec, train = logged_items(spec_path, "train")
    write_chat_log(tmp_path / "a.jsonl", spec, train)
    write_chat_log(tmp_path / "b.jsonl", spec, list(reversed(train)))
    for name in ("a", "b"):
        assert main(["import-logs", str(spec_path), str(tmp_path / f"{name}.jsonl"), "--out", str(tmp_path / f"{name}-out.jsonl")]) == 0
    assert (tmp_path / "a-out.jsonl").read_text() == (tmp_path / "b-out.jsonl").read_text()
    assert (tmp_path / "a-out.rows.jsonl").read_text() == (tmp_path / "b-out.rows.jsonl").read_text()


def test_a_file_of_another_shape_is_one_line_naming_file_and_line(tmp_path, capsys):
    spec_path = write_spec(tmp_path)
    (tmp_path / "x.jsonl").write_text('{"prompt": "hi", "completion": "billing"}\n')
    assert main(["import-logs", str(spec_path), str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "t.jsonl")]) == 2
    assert f"{tmp_path / 'x.jsonl'}:1: not a logged chat call" in capsys.readouterr().err


def test_skip_mismatched_drops_the_calls_of_another_prompt_and_keeps_the_rest(tmp_path):
    spec_path = write_spec(tmp_path)
    spec, train = logged_items(spec_path, "train")
    write_chat_log(tmp_path / "calls.jsonl", spec, train)
    with (tmp_path / "calls.jsonl").open("a") as handle:  # a call of some other feature, through the same gateway
        other = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Summarise: hello"}]}
        handle.write(json.dumps({"request": other, "response": completion("billing")}) + "\n")
    out = tmp_path / "t.jsonl"
    assert main(["import-logs", str(spec_path), str(tmp_path / "calls.jsonl"), "--out", str(out), "--skip-mismatched"]) == 0
    summary = json.loads((tmp_path / "t.summary.json").read_text())
    assert summary["reasons"] == {"template_mismatch": 1} and summary["imported"] == len(train)
    assert read_jsonl(tmp_path / "t.dropped.jsonl")[0]["where"] == f"{tmp_path / 'calls.jsonl'}:{len(train) + 1}"
