"""Settings and prompts a model cannot take are refused before any call: at spec load, in estimate, on each route."""

import asyncio
from pathlib import Path

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.litellm_backend import LiteLLMBackend
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.backends.request_checks import check_prompt_fits, check_spec_settings, explicit_setting_problem
from distilleval.backends.request_params import model_notes
from distilleval.errors import BackendError, SpecError
from distilleval.testing.openai_server import ModelScript, OpenAIServer

ASK = ChatRequest(messages=({"role": "user", "content": "where is my parcel"},), max_tokens=8)


def _spec_with_teacher(tmp_path, model, extra=""):
    import shutil

    from distilleval.spec.task_spec import load_spec

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"
    for name in ("data.jsonl", "rubric.md"):
        shutil.copy(fixture / name, tmp_path / name)
    text = (fixture / "spec.yaml").read_text().replace(
        "  model: anthropic/claude-opus-4-6\n", f"  model: {model}\n{extra}"
    )
    (tmp_path / "spec.yaml").write_text(text)
    return load_spec(tmp_path / "spec.yaml")


def test_a_temperature_written_in_the_spec_is_refused_on_a_model_that_takes_none(tmp_path):
    spec = _spec_with_teacher(tmp_path, "anthropic/claude-opus-4-7", "  temperature: 0.0\n")
    with pytest.raises(SpecError) as err:
        check_spec_settings(spec)
    text = str(err.value)
    assert "teacher.temperature" in text and "claude-opus-4-7" in text
    assert text.startswith(f"{spec.source}:15:"), text  # the line of 'temperature:'
    # Not written, the default temperature is left out of the requests instead, with a note.
    spec = _spec_with_teacher(tmp_path, "anthropic/claude-opus-4-7")
    check_spec_settings(spec)
    assert model_notes(spec.teacher) and "temperature=0" in model_notes(spec.teacher)[0]


def test_a_reasoning_setting_in_the_spec_reaches_the_request_and_bad_ones_name_their_line(tmp_path):
    spec = _spec_with_teacher(tmp_path, "openai/gpt-5-mini", "  reasoning: {effort: low}\n")
    assert (spec.teacher.reasoning_effort, spec.teacher.thinking_budget_tokens) == ("low", None)
    spec = _spec_with_teacher(tmp_path, "openai/gpt-5-mini", "  reasoning:\n    budget_tokens: 2000\n")
    with pytest.raises(SpecError) as err:
        check_spec_settings(spec)
    assert "teacher.reasoning.budget_tokens" in str(err.value) and ":16:" in str(err.value)
    with pytest.raises(SpecError):
        _spec_with_teacher(tmp_path, "openai/gpt-5-mini", "  reasoning: {effort: low, budget_tokens: 10}\n")


def test_reasoning_settings_a_model_cannot_honour_are_refused():
    assert explicit_setting_problem("openai/gpt-5.2", temperature_set=False, effort=None, budget=2000)[0] == "reasoning.budget_tokens"
    assert explicit_setting_problem("openai/gpt-5-mini", temperature_set=False, effort="none", budget=None)[0] == "reasoning.effort"
    assert explicit_setting_problem("anthropic/claude-opus-4-6", temperature_set=False, effort=None, budget=500)[0] == "reasoning.budget_tokens"
    assert explicit_setting_problem("openai/gpt-4o-mini", temperature_set=False, effort="low", budget=None)[0] == "reasoning"
    assert explicit_setting_problem("gemini/gemini-2.5-pro", temperature_set=False, effort="none", budget=None)[0] == "reasoning"
    assert explicit_setting_problem("gemini/gemini-2.5-flash", temperature_set=False, effort="none", budget=None) is None
    assert explicit_setting_problem("anthropic/claude-opus-4-6", temperature_set=True, effort=None, budget=2048)[0] == "temperature"
    assert explicit_setting_problem("gemini/gemini-2.5-flash", temperature_set=True, effort=None, budget=2048) is None
    assert explicit_setting_problem("openai/gpt-5.2", temperature_set=True, effort=None, budget=None) is None


def test_estimate_refuses_a_prompt_longer_than_the_models_context_window(tmp_path, capsys):
    import json as json_module

    from distilleval.cli.main import main

    spec = _spec_with_teacher(tmp_path, "openai/gpt-4")  # LiteLLM's map: 8,192 input tokens
    rows = [json_module.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines() if line.strip()]
    rows[-1]["message"] = "charged twice " * 6000  # ~12,000 tokens
    (tmp_path / "data.jsonl").write_text("".join(json_module.dumps(row) + "\n" for row in rows))
    assert main(["estimate", str(spec.source)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"item {rows[-1]['id']}" in err and "context window of 8,192" in err and "teacher" in err


@pytest.mark.parametrize("route", ["litellm", "fast-path"])
def test_a_prompt_longer_than_the_context_window_is_refused_before_it_is_sent(route):
    check_prompt_fits("openai/gpt-4", ASK)  # short: not even counted
    long_request = ChatRequest(messages=({"role": "user", "content": "charged twice " * 6000},), max_tokens=8)
    with OpenAIServer(default=ModelScript(answer="billing")) as server:
        if route == "fast-path":
            backend = OpenAICompatibleBackend("openai/gpt-4", api_base=server.base_url, price=None)
        else:
            backend = LiteLLMBackend("openai/gpt-4", price=None, api_base=server.base_url, api_key="k")

        async def call():
            try:
                return await backend.complete(long_request, timeout_s=10)
            finally:
                await backend.aclose()

        with pytest.raises(BackendError) as err:
            asyncio.run(call())
        assert server.log == []  # nothing sent, nothing paid
    assert err.value.kind == "context_length" and not err.value.retryable


def test_estimate_refuses_a_prompt_longer_than_the_tinker_students_context_length(tmp_path, capsys):
    import json as json_module

    from distilleval.cli.main import main

    spec = _spec_with_teacher(tmp_path, "anthropic/claude-opus-4-6")  # student: tinker://, base Qwen/Qwen3-8B
    assert spec.training.base_model == "Qwen/Qwen3-8B"
    rows = [json_module.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines() if line.strip()]
    rows[-1]["message"] = "charged twice " * 18000  # ~36,000 tokens: inside the teacher's window, not the student's
    (tmp_path / "data.jsonl").write_text("".join(json_module.dumps(row) + "\n" for row in rows))
    assert main(["estimate", str(spec.source)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"student model, item {rows[-1]['id']}" in err and "Qwen/Qwen3-8B's context length of 32,768" in err
    assert "offline copy of the Tinker lineup as of" in err  # the basis, with its date


def test_a_tinker_models_context_length_comes_from_the_offline_copy_or_its_peft_suffix():
    from distilleval.backends.request_checks import tinker_context_overflow
    from distilleval.backends.tinker.catalogue import offline_catalogue

    catalogue = offline_catalogue()
    assert catalogue.context_length("Qwen/Qwen3-8B") == 32_768
    assert catalogue.context_length("Qwen/Qwen3.6-35B-A3B") == 65_536
    assert catalogue.context_length("openai/gpt-oss-120b:peft:131072") == 131_072
    assert catalogue.context_length("not/a-tinker-model") is None
    assert all(m.max_context_length for m in catalogue.models.values())  # every listed model has one
    assert tinker_context_overflow("Qwen/Qwen3-8B", 32_760, 8) is None  # prompt plus max_tokens: exactly fits
    assert "32,768" in tinker_context_overflow("Qwen/Qwen3-8B", 32_761, 8)
    assert tinker_context_overflow("openai/gpt-oss-120b:peft:131072", 100_000, 8) is None
