"""``distilleval.validate`` over real local HTTP: the teacher's metric, the floor, the spot-check sample."""

from __future__ import annotations

import pytest

import distilleval
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_validate import teacher_answer, write_spec


@pytest.fixture
def server():
    with OpenAIServer() as running:
        running.script("teacher", ModelScript(answer=teacher_answer, usage=(50, 1)))
        yield running


def test_validate_scores_the_teacher_against_its_floor(tmp_path, server, capsys):
    spec = write_spec(tmp_path, server.base_url, teacher_min=0.85)
    result = distilleval.validate(spec, no_cache=True, spot_check=5, seed=3)
    assert capsys.readouterr().out == ""
    assert isinstance(result, distilleval.ValidateResult)
    assert result.items == 100 and result.metric.value == pytest.approx(0.8)  # 80 of 100 right (the double)
    assert result.teacher_min == 0.85 and not result.passed
    assert len(result.spot_check) == 5 and len({item.id for item in result.spot_check}) == 5
    again = distilleval.validate(spec, no_cache=True, spot_check=5, seed=3)
    assert again.spot_check == result.spot_check  # the sample is seeded


def test_no_floor_passes_and_the_json_leaves_the_sample_out(tmp_path, server):
    import json

    spec = write_spec(tmp_path, server.base_url)
    result = distilleval.validate(spec, no_cache=True, limit=10, spot_check=0)
    assert result.passed and result.teacher_min is None and result.spot_check == ()
    written = json.loads(distilleval.to_json(result))
    assert list(written) == ["spec", "teacher", "metric", "secondary", "items", "invalid", "failed_calls",
                             "spent_usd", "teacher_min", "passed", "pricing_table"]
    assert written["items"] == 10


def test_a_spec_without_gold_is_refused_naming_it(tmp_path, server):
    spec = write_spec(tmp_path, server.base_url)
    spec.write_text(spec.read_text().replace(", gold: label", ""))
    with pytest.raises(distilleval.DistillevalError, match=f"{spec}: data.gold is not set"):
        distilleval.validate(str(spec))
