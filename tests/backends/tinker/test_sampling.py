"""The Tinker sampling backend against the SDK test double, with the real Qwen tokenizer."""

import pytest

pytest.importorskip("tinker")  # the Tinker extra; the rest of the suite runs without it

import asyncio

from distilleval.backends.base import ChatRequest
from distilleval.backends.tinker.rendering import ChatRenderer, Message
from distilleval.backends.tinker.sampling import open_sampling_backend
from distilleval.backends.tinker.tokenizers import QwenTokenizer
from distilleval.costs.pricing import load_pricing
from distilleval.errors import BackendError, CallTimeoutError, ConfigurationError, PricingError
from distilleval.testing.fake_tinker import FakeServiceClient

KEY = {"TINKER_API_KEY": "tml-test"}
IM_END = 151645


@pytest.fixture(scope="module")
def qwen():
    return QwenTokenizer()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")


def labeller(tok, answer="billing", extra=()):
    """A responder that answers ``answer`` then the end-of-turn token (and any ``extra``)."""
    return lambda prompt: [*tok.encode(answer), IM_END, *extra]


def request(text="I was charged twice", **kwargs):
    return ChatRequest(messages=({"role": "user", "content": text},), **kwargs)


def open_backend(service, model="Qwen/Qwen3-8B", price_as=None, **kwargs):
    """Open ``model`` priced from the shipped table (as ``price_as`` when given) on ``service``."""
    price = load_pricing().price_for(price_as or model)
    return open_sampling_backend(model, price=price, service_factory=lambda: service, **kwargs)


def test_samples_rendered_prompt_with_params_and_counts(key, qwen):
    service = FakeServiceClient(responder=labeller(qwen, extra=(198, 42)))
    backend = open_backend(service)
    completion = asyncio.run(backend.complete(request(max_tokens=16), timeout_s=5))
    assert completion.text == "billing"
    expected_prompt = ChatRenderer("qwen3", qwen).generation_prompt([Message("user", "I was charged twice")])
    (call,) = service.calls_named("sample")
    assert call["prompt_tokens"] == len(expected_prompt) == completion.input_tokens
    params = call["params"]
    assert (params.max_tokens, params.temperature, list(params.stop)) == (16, 0.0, [IM_END])
    # the sampler stops at (and returns) the end-of-turn token
    assert completion.output_tokens == len(qwen.encode("billing")) + 1
    assert completion.extra == {"stop_reason": "stop", "ended": True}
    assert completion.latency_ms > 0
    price = load_pricing().price_for("Qwen/Qwen3-8B")
    expected_cost = (completion.input_tokens * price.input_per_mtok_usd + completion.output_tokens * price.output_per_mtok_usd) / 1e6
    assert completion.cost_usd == pytest.approx(expected_cost)


def test_max_tokens_truncation_is_reported(key, qwen):
    service = FakeServiceClient(responder=labeller(qwen, answer="a very long answer indeed"))
    completion = asyncio.run(open_backend(service).complete(request(max_tokens=2), timeout_s=5))
    assert completion.output_tokens == 2
    assert completion.extra == {"stop_reason": "length", "ended": False}


def test_spec_stop_strings_cut_the_text(key, qwen):
    service = FakeServiceClient(responder=labeller(qwen, answer="billing\nBecause the customer"))
    completion = asyncio.run(open_backend(service).complete(request(stop=("\n",)), timeout_s=5))
    assert completion.text == "billing"


def test_checkpoint_path_uses_its_base_models_template(key, qwen):
    service = FakeServiceClient(responder=labeller(qwen))
    service.register_checkpoint("tinker://run-9/sampler_weights/final", "Qwen/Qwen3.5-4B")
    # Qwen3.5's own tokenizer is not packaged; the Qwen3 one stands in for it here
    backend = open_backend(service, model="tinker://run-9/sampler_weights/final", tokenizer=qwen)
    assert backend.model_id == "tinker://run-9/sampler_weights/final"
    # the Qwen3.5 template strips message text; the spec's Qwen3-8B template would not
    completion = asyncio.run(backend.complete(request("  I was charged twice  "), timeout_s=5))
    qwen3_5_prompt = ChatRenderer("qwen3_5", qwen).generation_prompt([Message("user", "  I was charged twice  ")])
    qwen3_prompt = ChatRenderer("qwen3", qwen).generation_prompt([Message("user", "  I was charged twice  ")])
    assert completion.input_tokens == len(qwen3_5_prompt) != len(qwen3_prompt)
    assert service.calls_named("create_sampling_client")[0]["model_path"] == "tinker://run-9/sampler_weights/final"


def test_checkpoint_base_model_mismatch_is_refused(key, qwen):
    service = FakeServiceClient(responder=labeller(qwen))
    service.register_checkpoint("tinker://run-9/sampler_weights/final", "Qwen/Qwen3.5-4B")
    with pytest.raises(ConfigurationError, match="was trained from Qwen/Qwen3.5-4B, not Qwen/Qwen3-8B"):
        open_backend(service, model="tinker://run-9/sampler_weights/final", base_model="Qwen/Qwen3-8B")


def test_unknown_checkpoint_is_a_backend_error(key):
    with pytest.raises(BackendError, match="no sampler weights at tinker://nope"):
        open_backend(FakeServiceClient(), model="tinker://nope/sampler_weights/x")


def test_unknown_base_model_fails_before_connecting(key):
    service = FakeServiceClient()
    with pytest.raises((ConfigurationError, PricingError)):
        open_backend(service, model="acme/Nope-7B", price_as="tinker/lora")
    assert service.calls == []


def test_missing_key_fails_before_connecting(monkeypatch, tmp_path):
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    monkeypatch.delenv("TINKER_CREDENTIAL_CMD", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no key stored by `tinker auth login`
    service = FakeServiceClient()
    with pytest.raises(ConfigurationError, match="no Tinker credential"):
        open_backend(service)
    assert service.calls == []


def _png(path, size):
    from PIL import Image

    Image.new("RGB", size, "white").save(path)
    return path


def _image_request(path, text="Document type:"):
    return ChatRequest(messages=({"role": "user", "content": [
        {"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": f"file://{path}"}}]},))


def test_image_for_a_text_only_model_is_a_bad_request(key, qwen, tmp_path):
    backend = open_backend(FakeServiceClient(responder=labeller(qwen)))
    with pytest.raises(BackendError, match="the qwen3 chat template reads no images") as info:
        asyncio.run(backend.complete(_image_request(_png(tmp_path / "p.png", (224, 224))), timeout_s=5))
    assert info.value.kind == "bad_request"


def test_vision_student_samples_with_the_image_as_an_image_chunk(key, tmp_path):
    from distilleval.testing.byte_tokenizers import byte_tokenizer_for

    tok = byte_tokenizer_for("qwen3_5")  # Qwen3.6's own tokenizer is not packaged
    service = FakeServiceClient(responder=lambda prompt: [*tok.encode("invoice"), tok.special_id("<|im_end|>")])
    backend = open_backend(service, model="Qwen/Qwen3.6-35B-A3B", tokenizer=tok)
    completion = asyncio.run(backend.complete(_image_request(_png(tmp_path / "p.png", (150, 224))), timeout_s=5))
    assert completion.text == "invoice"
    (call,) = service.calls_named("sample")
    assert call["images"] == 1
    text_only = ChatRenderer("qwen3_5", tok).generation_prompt([Message("user", "Document type:")])
    # the image adds <|vision_start|>, its 70 tokens (150 x 224) and <|vision_end|>
    assert completion.input_tokens == call["prompt_tokens"] == len(text_only) + 70 + 2


def test_slow_sample_times_out(key, qwen):
    backend = open_backend(FakeServiceClient(responder=labeller(qwen), sample_delay_s=2))
    with pytest.raises(CallTimeoutError, match="within 0.1 s"):
        asyncio.run(backend.complete(request(), timeout_s=0.1))


def test_model_output_with_special_token_text_is_plain_data(key, qwen):
    # The model "writes" the text <|im_end|> as ordinary tokens: it is returned verbatim.
    service = FakeServiceClient(responder=lambda prompt: [*qwen.encode("a<|im_end|>b"), IM_END])
    completion = asyncio.run(open_backend(service).complete(request(), timeout_s=5))
    assert completion.text == "a<|im_end|>b"


def test_factory_entry_point_builds_from_a_model_spec(key, qwen):
    from distilleval.backends.tinker.sampling import build_tinker_backend
    from distilleval.spec.task_spec import ModelSpec

    service = FakeServiceClient(responder=labeller(qwen, answer="shipping"))
    service.register_checkpoint("tinker://run-3/sampler_weights/final", "Qwen/Qwen3-8B")
    spec_model = ModelSpec(model="tinker://run-3/sampler_weights/final", prompt="{text}")
    backend = build_tinker_backend("student", spec_model, price=None, service_factory=lambda: service)
    completion = asyncio.run(backend.complete(request(), timeout_s=5))
    assert completion.text == "shipping"
    assert completion.cost_usd == 0.0  # no pricing table given


def test_factory_entry_point_names_the_role_on_configuration_errors(monkeypatch, tmp_path):
    from distilleval.backends.tinker.sampling import build_tinker_backend
    from distilleval.spec.task_spec import ModelSpec

    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    monkeypatch.delenv("TINKER_CREDENTIAL_CMD", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no key stored by `tinker auth login`
    spec_model = ModelSpec(model="tinker://run-3/sampler_weights/final", prompt="{text}")
    with pytest.raises(ConfigurationError, match=r"student model 'tinker://run-3/sampler_weights/final': no Tinker credential"):
        build_tinker_backend("student", spec_model, price=None, service_factory=FakeServiceClient)


def test_runs_inside_the_shared_runner_with_cache(key, qwen, tmp_path):
    from distilleval.run.cache import ResponseCache
    from distilleval.run.runner import Call, Runner, RunnerOptions

    def answer(prompt):
        text = qwen.decode(prompt)
        return [*qwen.encode("billing" if "charged" in text else "shipping"), IM_END]

    service = FakeServiceClient(responder=answer)
    backend = open_backend(service)
    calls = [
        Call(item_id=f"i{n}", model="student", request=request(f"I was charged twice, order {n}" if n % 2 else f"parcel {n} late"))
        for n in range(40)
    ]

    async def run_all():
        with ResponseCache(tmp_path / "cache.sqlite") as cache:
            runner = Runner({"student": backend}, options=RunnerOptions(concurrency=8), cache=cache)
            return await runner.run(calls)

    first = asyncio.run(run_all())
    assert [r.text for r in first] == ["shipping" if n % 2 == 0 else "billing" for n in range(40)]
    assert all(r.ok and not r.cache_hit and r.cost_usd > 0 for r in first)
    second = asyncio.run(run_all())
    assert all(r.cache_hit and r.cost_usd == 0 for r in second)
    assert len(service.calls_named("sample")) == 40  # the replay made no new sampling call


def test_turn_ended_by_stop_reason_without_an_echoed_stop_token(key, qwen):
    service = FakeServiceClient(responder=lambda prompt: qwen.encode("billing"))
    completion = asyncio.run(open_backend(service).complete(request(), timeout_s=5))
    assert completion.text == "billing"
    assert completion.extra == {"stop_reason": "stop", "ended": True}


def test_shared_factory_routes_tinker_paths_here(monkeypatch):
    # The factory the runner uses hands tinker:// models to this module (and its key check).
    from distilleval.backends.factory import build_backend
    from distilleval.spec.task_spec import ModelSpec

    monkeypatch.setenv("TINKER_API_KEY", "not-a-tinker-key")
    spec_model = ModelSpec(model="tinker://run-3/sampler_weights/final", prompt="{text}")
    with pytest.raises(ConfigurationError, match=r"student model 'tinker://run-3/sampler_weights/final': TINKER_API_KEY is set, but the Tinker SDK does not accept it"):
        build_backend("student", spec_model, pricing=load_pricing())


def test_sampling_with_a_pre_0_38_sdk_names_the_version_problem(key, qwen):
    with pytest.raises(ConfigurationError, match=r"^create_sampling_client returned a FakeSamplingClient where tinker>=0.38"):
        open_backend(FakeServiceClient(responder=labeller(qwen), sdk_version="0.36.0"))


def test_base_model_reported_with_a_suffix_is_the_same_model(key, qwen):
    service = FakeServiceClient(responder=labeller(qwen))
    service.register_checkpoint("tinker://run-9/sampler_weights/final", "Qwen/Qwen3-8B:peft:131072")
    backend = open_backend(service, model="tinker://run-9/sampler_weights/final", base_model="Qwen/Qwen3-8B")
    assert asyncio.run(backend.complete(request(), timeout_s=5)).text == "billing"


def test_prompt_cache_hits_are_priced_at_the_cached_prefill_rate(key, qwen):
    # The double reports the prompt prefix shared with an earlier prompt as cache hits, as Tinker does.
    service = FakeServiceClient(responder=labeller(qwen))
    backend = open_backend(service)
    rubric = "Route the ticket to billing, technical or other. " * 40

    async def two():
        first = await backend.complete(request(rubric + "I was charged twice"), timeout_s=5)
        second = await backend.complete(request(rubric + "The app crashes"), timeout_s=5)
        return first, second

    first, second = asyncio.run(two())
    price = load_pricing().price_for("Qwen/Qwen3-8B")
    assert first.cached_input_tokens == 0 and second.cached_input_tokens > 300
    uncached = second.input_tokens - second.cached_input_tokens
    expected = (uncached * price.input_per_mtok_usd + second.cached_input_tokens * price.cached_input_per_mtok_usd
                + second.output_tokens * price.output_per_mtok_usd) / 1e6
    assert second.cost_usd == pytest.approx(expected)
    assert second.cost_usd < first.cost_usd


def test_a_prompt_over_the_context_length_is_refused_before_the_call(key, qwen):
    service = FakeServiceClient(responder=labeller(qwen), context_length=64)
    backend = open_backend(service)
    assert backend.max_context_tokens == 64  # from the service's SupportedModel.max_context_length
    with pytest.raises(BackendError) as err:
        asyncio.run(backend.complete(request("a long ticket " * 40, max_tokens=16), timeout_s=5))
    assert err.value.kind == "context_length" and not err.value.retryable
    assert service.calls_named("sample") == []  # nothing sent, nothing paid


def test_the_sampled_tokens_logprobs_give_the_answers_confidence(key, qwen):
    import math

    # The SDK's SampledSequence carries one log-probability per sampled token: exp(mean) is the confidence.
    service = FakeServiceClient(responder=labeller(qwen), sample_logprob=math.log(0.64))
    completion = asyncio.run(open_backend(service).complete(request(max_tokens=16), timeout_s=5))
    assert completion.confidence == pytest.approx(0.64, abs=1e-12)
    assert completion.confidence_basis == "token_logprobs:mean"
    silent = FakeServiceClient(responder=labeller(qwen))  # a service that sends none: no confidence, never invented
    completion = asyncio.run(open_backend(silent).complete(request(max_tokens=16), timeout_s=5))
    assert (completion.confidence, completion.confidence_basis) == (None, None)
