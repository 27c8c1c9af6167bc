"""`distilleval validate`: teacher vs gold over real local HTTP, scored with the spec's scorer."""

import json
import re

import pytest

from distilleval.cli.main import main
from distilleval.results.intervals import clopper_pearson
from distilleval.testing.openai_server import ModelScript, OpenAIServer

LABELS = ["billing", "shipping", "technical"]


def gold_of(i: int) -> str:
    return LABELS[i % 3]


def teacher_answer(prompt: str) -> str:
    """Right on 80 of 100: invalid on i % 10 == 3, wrong on i % 10 == 7; a terminal escape on item 13."""
    i = int(re.search(r"ticket (\d+)", prompt).group(1))
    if i == 13:
        return "\x1b[31mred alert\x1b[0m"
    if i % 10 == 3:
        return "not sure"
    if i % 10 == 7:
        return LABELS[(i + 1) % 3]
    return gold_of(i)


def write_spec(tmp_path, base_url, *, teacher_min=None, rows=100):
    with (tmp_path / "data.jsonl").open("w") as handle:
        for i in range(rows):
            record = {"id": f"t{i}", "message": f"ticket {i} about my order", "label": gold_of(i) if i < 100 else ""}
            handle.write(json.dumps(record) + "\n")
    gates = f"gates: {{teacher_min: {teacher_min}}}\n" if teacher_min is not None else ""
    (tmp_path / "spec.yaml").write_text(
        f"""\
name: routing
data: {{path: data.jsonl, input: {{text: message}}, gold: label, id: id}}
output: {{kind: label, labels: [billing, shipping, technical]}}
teacher:
  model: openai/teacher
  prompt: "RUBRIC. Ticket: {{text}}"
  api_base: {base_url}
  fast_path: true
  price_as: openai/gpt-4.1-mini
student: {{model: tinker://run/sampler_weights/final, prompt: "{{text}}"}}
{gates}"""
    )
    return tmp_path / "spec.yaml"


@pytest.fixture
def server():
    with OpenAIServer() as running:
        running.script("teacher", ModelScript(answer=teacher_answer, usage=(50, 1)))
        yield running


def test_teacher_below_floor_exits_1_with_interval_and_spot_check(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url, teacher_min=0.85, rows=110)  # 10 rows without gold
    out = tmp_path / "validate.json"
    status = main(["validate", str(spec), "--no-cache", "--spot-check", "20", "--seed", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 1
    assert len(server.requests_for("teacher", "ok")) == 100  # only items with gold
    low, high = clopper_pearson(80, 100)
    assert f"teacher accuracy: 0.800 (95% CI {low:.3f}-{high:.3f}" in printed
    assert "invalid outputs 10" in printed
    assert "FAIL: teacher accuracy 0.800 is below gates.teacher_min 0.850" in printed
    assert printed.count("      teacher: ") == 20
    assert "\x1b" not in printed  # model output is escaped before it reaches a terminal
    result = json.loads(out.read_text())
    assert result["metric"]["value"] == pytest.approx(0.8)
    assert (result["items"], result["invalid"], result["passed"]) == (100, 10, False)


def test_teacher_above_floor_exits_0(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url, teacher_min=0.75)
    assert main(["validate", str(spec), "--no-cache", "--spot-check", "0"]) == 0
    assert "PASS: teacher accuracy 0.800 >= gates.teacher_min 0.750" in capsys.readouterr().out


def test_spot_check_shows_escaped_output(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url)
    assert main(["validate", str(spec), "--no-cache", "--spot-check", "100"]) == 0
    printed = capsys.readouterr().out
    assert "teacher: \\x1b[31mred alert\\x1b[0m" in printed
    assert "no gates.teacher_min" in printed


def test_spec_without_gold_exits_2(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url)
    spec.write_text(spec.read_text().replace(", gold: label", ""))
    assert main(["validate", str(spec), "--no-cache"]) == 2
    assert "data.gold is not set" in capsys.readouterr().err
    assert server.requests_for("teacher") == []
