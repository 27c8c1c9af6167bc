"""The run pipeline's decisions: when to go offline and when a run is still current."""

from __future__ import annotations

import shutil

from distilleval.costs.pricing import load_pricing
from distilleval.pipeline.plan import missing_credentials, run_fingerprint
from distilleval.spec.task_spec import load_spec


def test_missing_credentials_names_roles_and_variables(tiny_spec_path, monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "TINKER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    spec = load_spec(tiny_spec_path)
    assert missing_credentials(spec) == ["teacher (ANTHROPIC_API_KEY)", "student (TINKER_API_KEY)"]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    monkeypatch.setenv("TINKER_API_KEY", "tml-x")
    assert missing_credentials(spec) == []


def test_local_server_without_key_variable_needs_no_key(tiny_spec_path):
    spec = load_spec(tiny_spec_path)
    local = spec.teacher.model_copy(update={"model": "openai/local", "api_base": "http://127.0.0.1:8000/v1"})
    spec = spec.model_copy(update={"teacher": local})
    assert not any(entry.startswith("teacher") for entry in missing_credentials(spec))


def test_fingerprint_changes_with_data_prompt_pricing_and_limit(tiny_spec_path, tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_spec_path.parent, folder)
    pricing = load_pricing()
    spec = load_spec(folder / "spec.yaml")
    base = run_fingerprint(spec, pricing, offline=True, limit=None)
    assert base == run_fingerprint(load_spec(folder / "spec.yaml"), pricing, offline=True, limit=None)
    assert base != run_fingerprint(spec, pricing, offline=True, limit=5)
    assert base != run_fingerprint(spec, pricing, offline=False, limit=None)
    with (folder / "data.jsonl").open("a") as handle:
        handle.write('{"id": "t7", "message": "new", "label": "other", "split": "test"}\n')
    assert base != run_fingerprint(load_spec(folder / "spec.yaml"), pricing, offline=True, limit=None)
    (folder / "rubric.md").write_text("Route: {text}\n")
    changed_prompt = run_fingerprint(load_spec(folder / "spec.yaml"), pricing, offline=True, limit=None)
    assert changed_prompt != base
    other_table = tmp_path / "prices.yaml"
    other_table.write_text(load_pricing().path.read_text() + "\n# edited\n")
    assert changed_prompt != run_fingerprint(load_spec(folder / "spec.yaml"), load_pricing(other_table), offline=True, limit=None)


def test_a_failed_step_leaves_no_run_directory_it_created(tmp_path):
    import pytest

    from distilleval.pipeline.plan import run_directory

    target = tmp_path / "runs" / "r1"
    with pytest.raises(RuntimeError):
        with run_directory(target, keep_partial=False):
            (target / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert not target.exists()
    # keep_partial: paid-for outputs stay; an empty directory still goes.
    with pytest.raises(RuntimeError):
        with run_directory(target, keep_partial=True):
            raise RuntimeError("boom")
    assert not target.exists()
    with pytest.raises(RuntimeError):
        with run_directory(target, keep_partial=True):
            (target / "labels.jsonl").write_text("{}\n")
            raise RuntimeError("boom")
    assert (target / "labels.jsonl").is_file()
    # A directory that existed before is never removed.
    with pytest.raises(RuntimeError):
        with run_directory(target, keep_partial=False):
            raise RuntimeError("boom")
    assert (target / "labels.jsonl").is_file()


def test_a_second_writer_of_one_run_directory_is_refused_and_removes_nothing(tmp_path):
    import pytest

    from distilleval.errors import RunDirectoryBusy
    from distilleval.pipeline.plan import run_directory

    target = tmp_path / "runs" / "r1"
    with run_directory(target, keep_partial=False):
        (target / "summary.json").write_text("{}")
        # The second run (here the same process, a second open file: flock tells them apart)
        # must neither interleave its files with the first's nor clean the folder up.
        with pytest.raises(RunDirectoryBusy, match=r"r1: another distilleval process \(pid \d+\) is writing"):
            with run_directory(target, keep_partial=False):
                raise AssertionError("the second run must not start")
        assert (target / "summary.json").is_file()
    with run_directory(target, keep_partial=False):  # released when the first finished
        pass
