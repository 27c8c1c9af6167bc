"""``distilleval.label`` over real local HTTP: the result is the summary file it writes, and it prints nothing."""

from __future__ import annotations

import json

import pytest

import distilleval
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_validate import teacher_answer, write_spec


@pytest.fixture
def server():
    with OpenAIServer() as running:
        running.script("teacher", ModelScript(answer=teacher_answer, usage=(50, 1)))
        yield running


def test_label_returns_what_it_wrote(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url)
    out = tmp_path / "labels" / "train.jsonl"
    said: list[str] = []
    result = distilleval.label(spec, out=str(out), no_cache=True, say=said.append)
    assert capsys.readouterr().out == ""
    assert len(said) == 1 and said[0].startswith(f"labelling {result.items} items from ")
    assert isinstance(result, distilleval.LabelResult)
    rows = out.read_text().splitlines()
    assert result.labelled == len(rows) > 0
    quarantined = (tmp_path / "labels" / "train.quarantine.jsonl").read_text().splitlines()
    assert result.quarantined == len(quarantined) == sum(result.reasons.values()) > 0
    summary = (tmp_path / "labels" / "train.summary.json").read_text()
    assert summary == distilleval.to_json(result) + "\n"
    assert json.loads(summary)["out"] == str(out)


def test_bad_arguments_fail_before_any_call(tmp_path, server):
    spec = write_spec(tmp_path, server.base_url)
    with pytest.raises(distilleval.DistillevalError, match="--concurrency must be at least 1"):
        distilleval.label(spec, concurrency=0, out=str(tmp_path / "x.jsonl"))
    assert server.requests_for("teacher") == []
