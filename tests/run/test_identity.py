"""A run's identity: every input that decides an answer or its cost, and the one phrase naming what changed."""

from __future__ import annotations

from distilleval.costs.pricing import load_pricing
from distilleval.run.identity import identity_change, run_identity
from distilleval.spec.task_spec import load_spec


def _spec(folder, *, rubric="Route the ticket: {text}", temperature=0.0, description=""):
    folder.mkdir(exist_ok=True)
    (folder / "data.jsonl").write_text('{"id": "a", "message": "hi", "label": "x"}\n')
    (folder / "rubric.md").write_text(rubric)
    (folder / "spec.yaml").write_text(f"""name: t
{description}data: {{path: data.jsonl, input: {{text: message}}, gold: label, id: id}}
output: {{kind: label, labels: [x, y]}}
scorer: exact_match
teacher: {{model: openai/gpt-4.1-mini, prompt: rubric.md, temperature: {temperature}}}
student: {{model: openai/gpt-4.1-nano, prompt: "{{text}}"}}
""")
    return load_spec(folder / "spec.yaml")


def _identity(spec, roles=("teacher", "student")):
    return run_identity(spec, load_pricing(), roles=list(roles), data_file=spec.resolve(spec.data.path))


def test_nothing_changed_is_none_and_a_moved_project_still_matches(tmp_path):
    before = _identity(_spec(tmp_path / "a"))
    assert identity_change(before, _identity(_spec(tmp_path / "a"))) is None
    assert identity_change(before, _identity(_spec(tmp_path / "b"))) is None  # same contents, other folder


def test_each_input_is_named_when_it_changes(tmp_path):
    spec = _spec(tmp_path / "a")
    before = _identity(spec)
    (tmp_path / "a" / "data.jsonl").write_text('{"id": "a", "message": "hello", "label": "x"}\n')
    change = identity_change(before, _identity(spec))
    assert change.startswith(f"the data file {tmp_path / 'a' / 'data.jsonl'} changed since this run started (sha256 ")

    changed = _spec(tmp_path / "b", rubric="Route it: {text}")
    assert identity_change(before, _identity(changed)).startswith(
        f"the teacher's prompt file {tmp_path / 'b' / 'rubric.md'} changed since this run started")

    warmer = _spec(tmp_path / "c", temperature=0.7)
    assert identity_change(before, _identity(warmer)) == (
        "the teacher's model settings changed since this run started (temperature 0.0 -> 0.7)")

    edited = _spec(tmp_path / "d", description="description: edited\n")
    assert identity_change(before, _identity(edited)).startswith("the spec file")


def test_the_pricing_table_is_part_of_it(tmp_path):
    spec = _spec(tmp_path / "a")
    bundled = load_pricing()
    table = tmp_path / "prices.yaml"
    table.write_text(bundled.path.read_text())
    before = run_identity(spec, load_pricing(table), roles=["teacher"], data_file=spec.resolve(spec.data.path))
    table.write_text(bundled.path.read_text() + "\n# edited\n")
    after = run_identity(spec, load_pricing(table), roles=["teacher"], data_file=spec.resolve(spec.data.path))
    assert identity_change(before, after).startswith(f"the pricing table {table} changed since this run started")


def test_a_role_called_only_now_or_only_before_is_no_change(tmp_path):
    spec = _spec(tmp_path / "a")
    assert identity_change(_identity(spec, ["teacher"]), _identity(spec)) is None
    assert identity_change(_identity(spec), _identity(spec, ["student"])) is None
