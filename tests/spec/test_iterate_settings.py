"""The spec's `iterate:` block: defaults, a generation prompt file read and kept by the run
folder's resolved spec, and the gain a round must add."""

from pathlib import Path

from distilleval.spec.iterate_settings import DEFAULT_GENERATION_PROMPT, DEFAULT_MIN_GAIN, IterateSpec
from distilleval.spec.resolved import load_resolved_spec, resolved_spec_yaml
from distilleval.spec.task_spec import load_spec


def write(tmp_path: Path, iterate: str) -> Path:
    (tmp_path / "d.jsonl").write_text('{"text": "x", "label": "p"}\n')
    (tmp_path / "s.yaml").write_text(f"""\
name: t
data: {{path: d.jsonl, input: {{text: text}}, gold: label}}
output: {{kind: label, labels: [p, q]}}
teacher: {{model: openai/x, prompt: "{{text}}"}}
student: {{model: openai/y, prompt: "{{text}}"}}
{iterate}""")
    return tmp_path / "s.yaml"


def test_no_block_means_no_settings_and_the_defaults_are_stated():
    settings = IterateSpec()
    assert (settings.per_class, settings.max_rounds, settings.similarity_threshold, settings.weak_recall) == (20, 4, 0.9, 0.8)
    assert settings.template == DEFAULT_GENERATION_PROMPT


def test_a_generation_prompt_file_is_read_and_inlined_in_the_resolved_spec(tmp_path):
    (tmp_path / "gen.md").write_text("Give {n} more {label} tickets for: {task}\n{format}")
    spec = load_spec(write(tmp_path, "iterate: {generation_prompt: gen.md, per_class: 3}\n"))
    assert spec.iterate.template == "Give {n} more {label} tickets for: {task}\n{format}"
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    (elsewhere / "spec.resolved.yaml").write_text(resolved_spec_yaml(spec))
    (tmp_path / "gen.md").unlink()  # the run folder stands alone
    again = load_resolved_spec(elsewhere / "spec.resolved.yaml")
    assert again.iterate.template == spec.iterate.template and again.iterate.per_class == 3


def test_the_gain_needed_is_min_gain_else_the_margin_else_the_default(tmp_path):
    assert IterateSpec(min_gain=0.0).gain_needed(0.03) == 0.0
    assert IterateSpec().gain_needed(0.03) == 0.03
    assert IterateSpec().gain_needed(None) == DEFAULT_MIN_GAIN
    assert load_spec(write(tmp_path, "")).iterate is None
