"""`distilleval run` online with a Tinker student: label -> validate -> train -> eval -> report for
every shipped spec, the teacher on the local OpenAI-compatible server, Tinker the SDK test double."""

import json
import shutil
from pathlib import Path

import pytest

tinker = pytest.importorskip("tinker")

import yaml  # noqa: E402

from distilleval.backends.tinker import rendering  # noqa: E402
from distilleval.cli.main import main  # noqa: E402
from distilleval.results.summary_json import read_summary  # noqa: E402
from distilleval.spec.data import load_items  # noqa: E402
from distilleval.spec.task_spec import load_spec  # noqa: E402
from distilleval.testing.byte_tokenizers import byte_tokenizer_for  # noqa: E402
from distilleval.testing.fake_tinker import FakeServiceClient  # noqa: E402
from distilleval.testing.openai_server import ModelScript, OpenAIServer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CASES = sorted(p.parent.name for p in (REPO / "specs").glob("*/spec.yaml"))


def _answer_text(gold) -> str:
    return gold if isinstance(gold, str) else json.dumps(gold)


def _tinker_spec(tmp_path: Path, case: str, base_url: str) -> tuple[Path, str]:
    """The shipped spec with its teacher on the local server, its student the Tinker base model
    (so `run` trains it) and no teacher floor (the scripted teacher gives one fixed answer)."""
    folder = tmp_path / case
    shutil.copytree(REPO / "specs" / case, folder)
    path = folder / "spec.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["pricing"] = str(REPO / "pricing" / "2026-02.yaml")
    teacher_price = spec["teacher"].get("price_as") or spec["teacher"]["model"]
    spec["teacher"].update(model="openai/teacher", api_base=base_url, api_key_env="LOCAL_TEST_KEY", price_as=teacher_price)
    for candidate in spec.get("candidates", []):  # a prompted candidate answers from the same local server
        candidate.update(model="openai/teacher", api_base=base_url, api_key_env="LOCAL_TEST_KEY",
                         price_as=candidate.get("price_as") or candidate["model"])
    base_model = spec.get("training", {}).get("base_model", "Qwen/Qwen3-8B")
    spec["student"].update(model=base_model)
    spec["gates"] = {}
    if spec["scorer"].get("kind") == "judge":  # the judge on the local server too (scripted as model "judge")
        spec["scorer"].update(model="openai/judge", api_base=base_url, api_key_env="LOCAL_TEST_KEY",
                              price_as=spec["scorer"].get("price_as") or spec["scorer"]["model"])
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    gold = next(item.gold for item in load_items(load_spec(path)) if item.gold is not None)
    return path, _answer_text(gold)


@pytest.mark.parametrize("case", CASES)
def test_run_trains_and_evaluates_a_tinker_student_for_every_spec(case, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOCAL_TEST_KEY", "sk-local-test-0000")
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    monkeypatch.setenv("DISTILLEVAL_CACHE", str(tmp_path / "cache.sqlite"))
    with OpenAIServer(api_key="sk-local-test-0000") as server:
        spec_path, answer = _tinker_spec(tmp_path, case, server.base_url)
        server.script("teacher", ModelScript(answer=answer))
        server.script("judge", ModelScript(answer="Meets the criteria.\nVERDICT: PASS"))
        spec = load_spec(spec_path)
        vision = bool(spec.data.image_inputs)
        if vision:
            # Qwen3.6's tokenizer is not packaged (it comes from the hub); a byte tokenizer with its
            # special tokens stands in, for training and sampling alike
            tok = byte_tokenizer_for("qwen3_5")
            monkeypatch.setattr(rendering, "tokenizer_for", lambda model: tok)
        else:
            tok = rendering.tokenizer_for(rendering.base_model_for(spec.training.base_model))
        end = tok.special_id("<|im_end|>")
        service = FakeServiceClient(responder=lambda prompt: [*tok.encode(answer), end])
        monkeypatch.setattr(tinker, "ServiceClient", lambda api_key=None, **_: service)
        status = main(["run", str(spec_path), "--runs-dir", str(tmp_path / "runs"), "--limit", "6"])
        captured = capsys.readouterr()
        out = captured.out
    assert status == 0, out + captured.err
    assert " online -> " in out, out
    run_dir = next((tmp_path / "runs").iterdir())
    manifest = json.loads((run_dir / "train" / "manifest.json").read_text())
    assert manifest["base_model"] == spec.training.base_model
    assert manifest["steps"]["total"] == manifest["recipe"]["steps"] > 0
    assert manifest["recipe"]["learning_rate"] > 0 and manifest["recipe"]["learning_rate_source"]
    assert manifest["training_cost"]["cost_usd"] > 0 and manifest["storage_cost"]["cost_usd"] > 0
    summary = read_summary(run_dir / "eval")
    assert summary.models["student"].model == manifest["sampler_path"]
    assert summary.models["student"].basis == "measured"
    # The checkpoint is billed at its base model's row, as Tinker bills a LoRA (not the tinker://* fallback).
    assert summary.models["student"].priced_as == spec.training.base_model
    samples = service.calls_named("sample")
    assert len(samples) == 6
    # a vision student's every training row and eval prompt carries its image
    if vision:
        assert all(call["images"] == 1 for call in samples)
    assert (run_dir / "eval" / "report.md").is_file() and (run_dir / "eval" / "report.html").is_file()
    assert f"train     student checkpoint {manifest['sampler_path']}" in out
