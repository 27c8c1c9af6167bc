"""``distilleval.estimate``: the same figures as ``distilleval estimate --format json``, in a frozen, typed result."""

from __future__ import annotations

import dataclasses
import json

import pytest

import distilleval
from distilleval.cli.main import main


def test_the_result_serialised_is_what_the_command_prints(tiny_spec_path, capsys):
    result = distilleval.estimate(tiny_spec_path, offline=True)
    assert capsys.readouterr().out == ""  # a library call prints nothing
    assert main(["estimate", str(tiny_spec_path), "--offline", "--format", "json"]) == 0
    printed = capsys.readouterr().out
    assert distilleval.to_json(result) + "\n" == printed


def test_the_result_is_typed_and_frozen(tiny_spec_path):
    spec = distilleval.load_spec(tiny_spec_path)
    result = distilleval.estimate(spec, offline=True)
    assert isinstance(result, distilleval.EstimateResult)
    assert result.spec == spec.name and result.items > 0
    assert result.eval_run.total_usd == pytest.approx(result.eval_run.teacher_usd + result.eval_run.student_usd
                                                      + sum(result.eval_run.candidates_usd.values()))
    assert result.profiles["teacher"].input_tokens.mean > result.profiles["student"].input_tokens.mean
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.items = 0  # type: ignore[misc]
    # Render-only fields stay on the result for the markdown, out of the JSON.
    assert result.cost_table.rows and "cost_table" not in json.loads(distilleval.to_json(result))


def test_a_bad_argument_is_a_one_line_error(tiny_spec_path, tmp_path):
    with pytest.raises(distilleval.DistillevalError, match="--from-run .*: no run found"):
        distilleval.estimate(tiny_spec_path, from_run=str(tmp_path))


@pytest.mark.parametrize("output", [[], ["--format", "json"]], ids=["text", "json"])
def test_estimate_over_a_lazily_loaded_file_prints_what_the_list_path_prints(tiny_spec_path, monkeypatch, capsys,
                                                                            output):
    from distilleval.costs import estimates
    from distilleval.spec import lazy_items

    command = ["estimate", str(tiny_spec_path), "--offline", *output]
    assert main(command) == 0
    from_list = capsys.readouterr().out
    counted = []
    count = estimates.count_spec_tokens

    def recording(spec, items, **kwargs):
        counted.append(items)
        return count(spec, items, **kwargs)

    monkeypatch.setattr(lazy_items, "LAZY_FROM", 1)
    monkeypatch.setattr(estimates, "COUNT_CHUNK", 4)  # several chunks over the six items
    monkeypatch.setattr(estimates, "count_spec_tokens", recording)
    assert main(command) == 0
    assert isinstance(counted[0], lazy_items.LazyItems)  # counted as loaded: no list made of them
    assert capsys.readouterr().out == from_list
