"""Every shipped spec's teacher runs `eval`, `eval --batch` and `label --batch` through the strict doubles.

The doubles refuse what the real services refuse (``max_tokens`` or ``temperature`` for the
GPT-5 family, sampling parameters for Claude models that take none), so a request distilleval
shapes wrongly for the spec's real model fails here as it would on the first real run.
"""

import json
import shutil
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.results.summary_json import read_summary
from distilleval.spec.task_spec import load_spec
from distilleval.testing.batch_servers import BatchServer
from distilleval.testing.openai_server import ModelScript, OpenAIServer

# A judge-scored spec's eval also calls its judge, which these doubles do not stand in for; its teacher
# (Claude Opus 4.6, as pii_detection's and document_classification's) is run through the scripted server
# with its judge in tests/test_example_specs.py.
SPECS = sorted(p for p in (Path(__file__).resolve().parents[2] / "specs").glob("*/spec.yaml")
               if "kind: judge" not in p.read_text())
KEY_VARIABLE = "DISTILLEVAL_TEST_PROVIDER_KEY"


def _copy_with_teacher_at(spec_path, folder, api_base):
    """The spec's folder copied to ``folder/specs/NAME`` (its pricing table beside, as in the repository)."""
    repository = spec_path.parents[2]
    shutil.copytree(repository / "pricing", folder / "pricing")
    folder = folder / "specs" / spec_path.parent.name
    shutil.copytree(spec_path.parent, folder)
    spec = folder / "spec.yaml"
    model = load_spec(spec_path).teacher.model
    text = spec.read_text()
    marker = f"  model: {model}\n"
    assert marker in text
    spec.write_text(text.replace(marker, f"{marker}  api_base: {api_base}\n  api_key_env: {KEY_VARIABLE}\n", 1))
    return spec, model


def _summary_errors(runs):
    [run_dir] = list(runs.iterdir())
    return read_summary(run_dir / "summary.json").models["teacher"].errors


@pytest.mark.parametrize("spec_path", SPECS, ids=[p.parent.name for p in SPECS])
def test_the_shipped_teacher_eval_passes_the_strict_online_double(spec_path, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, "k")
    with OpenAIServer(default=ModelScript(answer="billing")) as server:
        provider = load_spec(spec_path).teacher.model.split("/", 1)[0]
        spec, _ = _copy_with_teacher_at(spec_path, tmp_path / "spec", server.api_base(provider))
        code = main(["eval", str(spec), "--models", "teacher", "--limit", "3", "--runs-dir", str(tmp_path / "runs"),
                     "--cache", str(tmp_path / "cache.sqlite"), "--max-retries", "0"])
        outcomes = {entry.outcome for entry in server.log}
    assert outcomes == {"ok"}, outcomes
    assert _summary_errors(tmp_path / "runs") == {}
    assert code == 0
    # A default temperature the model does not take (no Anthropic model takes one) is left out, with a note.
    [run_dir] = list((tmp_path / "runs").iterdir())
    notes = read_summary(run_dir / "summary.json").models["teacher"].notes
    sent_temperature = {"temperature" in json.dumps(entry.body) for entry in server.log}
    if provider == "anthropic":
        assert sent_temperature == {False} and any("does not take temperature=0" in note for note in notes), notes
    else:
        assert not any("temperature" in note for note in notes), notes


BATCH_SPECS = [p for p in SPECS if load_spec(p).teacher.model.split("/", 1)[0] in ("openai", "anthropic")]


@pytest.mark.parametrize("spec_path", BATCH_SPECS, ids=[p.parent.name for p in BATCH_SPECS])
def test_the_shipped_teacher_batches_pass_the_strict_batch_double(spec_path, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, "k")
    with BatchServer(answer=lambda prompt: "billing", polls_to_finish=0) as server:
        provider = load_spec(spec_path).teacher.model.split("/", 1)[0]
        base = server.openai_base if provider == "openai" else server.anthropic_base
        spec, _ = _copy_with_teacher_at(spec_path, tmp_path / "spec", base)
        assert main(["eval", str(spec), "--models", "teacher", "--limit", "3", "--batch", "--batch-poll", "0.01",
                     "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache.sqlite")]) == 0
        assert _summary_errors(tmp_path / "runs") == {}
        out = tmp_path / "labels.jsonl"
        main(["label", str(spec), "--limit", "4", "--batch", "--batch-poll", "0.01", "--out", str(out),
              "--cache", str(tmp_path / "label-cache.sqlite")])
        assert len(server.submissions) == 2
    # Every request reached the model: none came back refused (a 400 from the double) or missing.
    quarantine = out.with_name(out.name.replace(".jsonl", ".quarantine.jsonl"))
    rows = [json.loads(line) for path in (out, quarantine) if path.exists() for line in path.read_text().splitlines() if line]
    assert rows and not any("HTTP 400" in json.dumps(row) or "unsupported" in json.dumps(row).lower() for row in rows)


CANDIDATE_SPECS = [p for p in SPECS if load_spec(p).candidates]


@pytest.mark.parametrize("spec_path", CANDIDATE_SPECS, ids=[p.parent.name for p in CANDIDATE_SPECS])
def test_the_shipped_candidates_pass_the_strict_online_double_with_logprobs(spec_path, tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv(KEY_VARIABLE, "k")
    with OpenAIServer(default=ModelScript(answer="billing", logprob=-0.5)) as server:
        spec, _ = _copy_with_teacher_at(spec_path, tmp_path / "spec", server.base_url)
        raw = yaml.safe_load(spec.read_text())
        for candidate in raw["candidates"]:
            provider = candidate["model"].split("/", 1)[0]
            candidate.update(api_base=server.api_base(provider), api_key_env=KEY_VARIABLE)
        spec.write_text(yaml.safe_dump(raw, sort_keys=False))
        names = [c["name"] for c in raw["candidates"]]
        code = main(["eval", str(spec), "--models", ",".join(names), "--limit", "3", "--runs-dir", str(tmp_path / "runs"),
                     "--cache", str(tmp_path / "cache.sqlite"), "--max-retries", "0"])
        outcomes = {entry.outcome for entry in server.log}
        asked = {entry.body.get("logprobs") for entry in server.log}
    assert outcomes == {"ok"} and code == 0, outcomes
    [run_dir] = list((tmp_path / "runs").iterdir())
    summary = read_summary(run_dir / "summary.json")
    for name, candidate in zip(names, raw["candidates"]):
        result = summary.models[name]
        assert result.role == "candidate" and result.errors == {} and result.n == 3
        if candidate["model"].startswith("openai/gpt-4"):  # takes logprobs: asked, and the confidence kept
            assert asked == {True} and result.confidence_basis == "token_logprobs:mean" and result.n_confident == 3
