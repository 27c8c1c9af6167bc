"""API keys come from the environment, by the spec's variable name or the provider's default."""

import pytest

from distilleval.backends.credentials import provider_of, resolve_api_key
from distilleval.errors import ConfigurationError


def test_named_variable_wins(monkeypatch):
    monkeypatch.setenv("MY_TEAM_KEY", "sk-team")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-default")
    key = resolve_api_key("anthropic/claude-opus-4-6", api_key_env="MY_TEAM_KEY", api_base=None, role="teacher")
    assert key == "sk-team"


def test_named_variable_missing_names_it_without_a_value(monkeypatch):
    monkeypatch.delenv("MY_TEAM_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="MY_TEAM_KEY") as caught:
        resolve_api_key("openai/gpt-5.2", api_key_env="MY_TEAM_KEY", api_base=None, role="teacher")
    assert "\n" not in str(caught.value)


def test_provider_default_variable(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "g-1")
    assert resolve_api_key("gemini/gemini-2.5-flash", api_key_env=None, api_base=None, role="teacher") == "g-1"
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="set ANTHROPIC_API_KEY"):
        resolve_api_key("anthropic/claude-opus-4-6", api_key_env=None, api_base=None, role="teacher")


def test_local_server_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_api_key("openai/student", api_key_env=None, api_base="http://127.0.0.1:8000/v1", role="student") is None


def test_provider_prefix():
    assert provider_of("anthropic/claude-opus-4-6") == "anthropic"
    assert provider_of("gpt-4.1-mini") == "openai"
