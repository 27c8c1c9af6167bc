"""The Tinker double is at least as strict as the service where distilleval could get it wrong."""

import asyncio
import time

import pytest

pytest.importorskip("tinker")

from tinker import types  # noqa: E402

from distilleval.testing.fake_tinker import FakeServiceClient  # noqa: E402

PARAMS = types.SamplingParams(max_tokens=4, temperature=0.0, stop=[0])


def _sampler(service):
    return service.create_sampling_client(base_model="Qwen/Qwen3-8B").result()


def _prompt(n=5):
    return types.ModelInput.from_ints(list(range(1, n + 1)))


def test_a_sampling_future_completes_after_it_is_returned():
    service = FakeServiceClient(responder=lambda prompt: [7, 0], sample_delay_s=0.05)
    future = _sampler(service).sample(prompt=_prompt(), num_samples=1, sampling_params=PARAMS)
    assert not future.future().done()
    assert list(future.result(timeout=5).sequences[0].tokens) == [7, 0]


def test_a_blocking_result_on_an_event_loop_is_refused():
    service = FakeServiceClient(responder=lambda prompt: [7, 0])
    sampler = _sampler(service)

    async def wrong_then_right():
        future = sampler.sample(prompt=_prompt(), num_samples=1, sampling_params=PARAMS)
        with pytest.raises(RuntimeError, match="result_async"):
            future.result()
        return await future.result_async(timeout=5)

    assert asyncio.run(wrong_then_right()).sequences


def test_requests_queue_under_load():
    service = FakeServiceClient(responder=lambda prompt: [7, 0], sample_delay_s=0.1, sample_slots=2)
    sampler = _sampler(service)
    started = time.monotonic()
    futures = [sampler.sample(prompt=_prompt(), num_samples=1, sampling_params=PARAMS) for _ in range(6)]
    for future in futures:
        future.result(timeout=10)
    assert time.monotonic() - started >= 0.3  # six requests through two slots: three rounds of 0.1 s


def test_a_prompt_over_the_context_length_is_a_400_and_reported_as_the_models_limit():
    import tinker

    service = FakeServiceClient(responder=lambda prompt: [7, 0], context_length=8)
    capabilities = service.create_rest_client().get_server_capabilities().result()
    assert {m.max_context_length for m in capabilities.supported_models} == {8}
    future = _sampler(service).sample(prompt=_prompt(6), num_samples=1, sampling_params=PARAMS)
    with pytest.raises(tinker.BadRequestError, match="context length of 8"):
        future.result(timeout=5)


def _datum(prompt, completion):
    import numpy as np

    tokens = [*prompt, *completion]
    weights = [0.0] * len(prompt) + [1.0] * len(completion)
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": types.TensorData.from_numpy(np.asarray(tokens[1:], dtype=np.int64)),
                        "weights": types.TensorData.from_numpy(np.asarray(weights[1:], dtype=np.float32))},
    )


def test_answer_from_training_answers_with_the_nearest_row_an_optimizer_step_applied():
    service = FakeServiceClient(responder=lambda prompt: [99, 0], answer_from_training=True)
    client = service.create_lora_training_client(base_model="Qwen/Qwen3-8B").result()
    rows = [([1, 2, 3, 4], [7, 0]), ([5, 6, 7, 8], [8, 0])]
    client.forward_backward([_datum(*rows[0])], "cross_entropy").result()
    before = client.save_weights_for_sampler("before-step").result().path  # a gradient, no step yet
    client.optim_step(types.AdamParams(learning_rate=1e-4)).result()
    client.forward([_datum(*rows[1])], "cross_entropy").result()  # scored, never trained on
    after = client.save_weights_for_sampler("after-step").result().path

    def answer(path, prompt):
        sampler = service.create_sampling_client(model_path=path).result()
        params = types.SamplingParams(max_tokens=4, temperature=0.0, stop=[0])
        return list(sampler.sample(prompt=types.ModelInput.from_ints(prompt), num_samples=1,
                                   sampling_params=params).result(timeout=5).sequences[0].tokens)

    assert answer(before, [1, 2, 3]) == [99, 0]  # nothing applied yet: the responder
    assert answer(after, [1, 2, 3]) == [7, 0]  # the trained row's completion
    assert answer(after, [5, 6, 7]) == [7, 0]  # the forward-only row was not learned
    assert [(list(p), list(c)) for p, c in service.saved[after].trained] == [([1, 2, 3, 4], [7, 0])]
