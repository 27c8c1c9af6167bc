"""The factory picks the backend a model spec asks for and fails fast on what cannot work."""

import socket
import sys

import pytest

from distilleval.backends.factory import build_backend, check_reachable
from distilleval.backends.litellm_backend import LiteLLMBackend
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.backends.tinker.model_ids import is_tinker_model
from distilleval.costs.pricing import load_pricing
from distilleval.errors import ConfigurationError, PricingError, ServiceUnavailableError
from distilleval.spec.task_spec import ModelSpec


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fast_path_and_litellm_choice():
    pricing = load_pricing()
    fast = ModelSpec(model="openai/student", prompt="{text}", api_base="http://127.0.0.1:1/v1", fast_path=True,
                     price_as="openai/gpt-4.1-mini")
    slow = ModelSpec(model="openai/student", prompt="{text}", api_base="http://127.0.0.1:1/v1",
                     price_as="openai/gpt-4.1-mini")
    assert isinstance(build_backend("student", fast, pricing=pricing), OpenAICompatibleBackend)
    assert isinstance(build_backend("student", slow, pricing=pricing), LiteLLMBackend)


def test_unpriced_model_fails_before_any_call():
    spec = ModelSpec(model="openai/unknown-model", prompt="{text}", api_base="http://127.0.0.1:1/v1")
    with pytest.raises(PricingError, match="unknown-model"):
        build_backend("teacher", spec, pricing=load_pricing())


def test_fast_path_without_api_base_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    spec = ModelSpec(model="openai/gpt-4.1-mini", prompt="{text}", fast_path=True)
    with pytest.raises(ConfigurationError, match="fast_path needs an api_base"):
        build_backend("student", spec, pricing=None)


def test_missing_key_fails_fast(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    spec = ModelSpec(model="anthropic/claude-opus-4-6", prompt="{text}")
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        build_backend("teacher", spec, pricing=load_pricing())


def test_tinker_models_go_to_the_tinker_hook(monkeypatch):
    assert is_tinker_model("tinker://run-1/sampler_weights/final")
    # Without the tinker backend module the error says what is missing, on one line.
    monkeypatch.setitem(sys.modules, "distilleval.backends.tinker.sampling", None)
    spec = ModelSpec(model="tinker://run-1/sampler_weights/final", prompt="{text}")
    with pytest.raises(ConfigurationError, match="needs Tinker support"):
        build_backend("student", spec, pricing=load_pricing())


def test_tinker_base_model_ids_go_to_tinker_not_litellm(monkeypatch):
    # "Qwen/Qwen3-8B" would be an unknown provider to LiteLLM; as a student it means Tinker sampling.
    assert is_tinker_model("Qwen/Qwen3-8B") and not is_tinker_model("openai/gpt-5.2")
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    spec = ModelSpec(model="Qwen/Qwen3-8B", prompt="{text}")
    with pytest.raises(ConfigurationError, match="TINKER_API_KEY"):
        build_backend("student", spec, pricing=load_pricing())


def test_unreachable_api_base_fails_fast():
    spec = ModelSpec(model="openai/student", prompt="{text}", api_base=f"http://127.0.0.1:{_free_port()}/v1")
    with pytest.raises(ServiceUnavailableError, match="cannot connect to http://127.0.0.1") as caught:
        check_reachable("student", spec, timeout_s=1)
    assert "\n" not in str(caught.value)


def test_litellm_workers_variable_picks_the_pooled_backend(monkeypatch):
    from distilleval.backends.litellm_pool import PooledLiteLLMBackend

    spec = ModelSpec(model="openai/student", prompt="{text}", api_base="http://127.0.0.1:1/v1")
    monkeypatch.setenv("DISTILLEVAL_LITELLM_WORKERS", "2")
    pooled = build_backend("student", spec, pricing=None)
    assert isinstance(pooled, PooledLiteLLMBackend) and "workers=2" in repr(pooled)
    monkeypatch.setenv("DISTILLEVAL_LITELLM_WORKERS", "0")
    assert isinstance(build_backend("student", spec, pricing=None), LiteLLMBackend)
    monkeypatch.setenv("DISTILLEVAL_LITELLM_WORKERS", "many")
    with pytest.raises(ConfigurationError, match=r"DISTILLEVAL_LITELLM_WORKERS: expected a whole number .* found 'many'"):
        build_backend("student", spec, pricing=None)


def test_a_large_concurrent_run_gets_litellm_workers_unless_the_variable_says_otherwise(monkeypatch):
    from distilleval.backends.factory import litellm_workers
    from distilleval.backends.litellm_pool import PooledLiteLLMBackend

    monkeypatch.delenv("DISTILLEVAL_LITELLM_WORKERS", raising=False)
    # Large and concurrent on two cores: one worker per core; capped on big machines.
    assert litellm_workers(calls=2000, concurrency=64, cpus=2) == 2
    assert litellm_workers(calls=2000, concurrency=64, cpus=64) == 4
    # Too few calls, too little concurrency, or one core: the imports would not pay off.
    assert litellm_workers(calls=999, concurrency=64, cpus=2) == 0
    assert litellm_workers(calls=2000, concurrency=8, cpus=2) == 0
    assert litellm_workers(calls=2000, concurrency=64, cpus=1) == 0
    spec = ModelSpec(model="openai/student", prompt="{text}", api_base="http://127.0.0.1:1/v1")
    assert isinstance(build_backend("student", spec, pricing=None, calls=40, concurrency=16), LiteLLMBackend)
    if litellm_workers(calls=5000, concurrency=64) > 0:  # this machine has two or more cores
        assert isinstance(build_backend("student", spec, pricing=None, calls=5000, concurrency=64), PooledLiteLLMBackend)
    # The variable wins both ways.
    monkeypatch.setenv("DISTILLEVAL_LITELLM_WORKERS", "0")
    assert litellm_workers(calls=5000, concurrency=64, cpus=8) == 0
    monkeypatch.setenv("DISTILLEVAL_LITELLM_WORKERS", "3")
    assert litellm_workers(calls=1, concurrency=1, cpus=1) == 3
