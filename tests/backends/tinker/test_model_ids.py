"""Which model ids Tinker serves."""

from distilleval.backends.tinker.model_ids import is_tinker_model


def test_is_tinker_model():
    assert is_tinker_model("tinker://run/sampler_weights/final")
    assert is_tinker_model("Qwen/Qwen3-8B")
    assert not is_tinker_model("openai/gpt-5.2")
