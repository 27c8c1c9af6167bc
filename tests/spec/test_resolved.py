"""Tests for distilleval.spec.resolved: the spec a run folder keeps reads back as the spec the run used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distilleval.errors import SpecError
from distilleval.spec.resolved import load_resolved_spec, resolved_spec_yaml
from distilleval.spec.task_spec import load_spec

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", ["ticket_routing", "sql_generation"])
def test_a_resolved_spec_reads_back_as_the_spec_without_its_folder(tmp_path, case):
    spec = load_spec(REPO / "specs" / case / "spec.yaml")
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    (run_dir / "spec.resolved.yaml").write_text(resolved_spec_yaml(spec))
    again = load_resolved_spec(run_dir / "spec.resolved.yaml")
    assert again.source_sha256 == spec.source_sha256  # the original spec's, as summary.json records it
    assert again.gates == spec.gates and again.traffic == spec.traffic and again.output == spec.output
    assert again.training == spec.training
    if spec.scorer.kind == "sql_execution":  # the database named by its absolute path: the same file
        assert again.resolve(again.scorer.database) == spec.resolve(spec.scorer.database).resolve()
        assert again.scorer.model_copy(update={"database": spec.scorer.database}) == spec.scorer
    else:
        assert again.scorer == spec.scorer
    # What the spec left unset stays unset: defaults such as the recipe's epochs depend on it.
    assert again.training.model_fields_set == spec.training.model_fields_set
    assert again.model_fields_set == spec.model_fields_set
    for role, model in spec.models().items():
        other = again.models()[role]
        assert (other.prompt_text, other.system_text, other.model) == (model.prompt_text, model.system_text, model.model)
    assert Path(again.data.path).is_absolute() and Path(again.resolve(again.data.path)) == spec.resolve(spec.data.path).resolve()


def test_a_resolved_spec_loads_after_its_data_is_gone(tmp_path):
    shutil.copytree(REPO / "specs" / "ticket_routing", tmp_path / "task")
    (tmp_path / "task" / "spec.yaml").write_text(
        (tmp_path / "task" / "spec.yaml").read_text().replace("../../pricing/2026-02.yaml", str(REPO / "pricing" / "2026-02.yaml")))
    spec = load_spec(tmp_path / "task" / "spec.yaml")
    resolved = tmp_path / "spec.resolved.yaml"
    resolved.write_text(resolved_spec_yaml(spec))
    shutil.rmtree(tmp_path / "task")
    assert load_resolved_spec(resolved).gates == spec.gates


def test_a_file_that_names_no_original_spec_is_not_a_resolved_spec(tmp_path):
    plain = tmp_path / "spec.resolved.yaml"
    plain.write_text((REPO / "specs" / "ticket_routing" / "spec.yaml").read_text())
    with pytest.raises(SpecError, match=r"spec.resolved.yaml:1: source: a resolved spec names its original spec's path and sha256"):
        load_resolved_spec(plain)
