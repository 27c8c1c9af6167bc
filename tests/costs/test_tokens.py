"""Local token counting: offline cl100k, chat overhead and image tiles."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from distilleval.costs.tokens import FixedEnds, count_message_tokens, count_tokens, image_tokens


def test_counts_offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the tokenizer tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0


def test_special_token_text_is_counted_not_refused():
    assert count_tokens("<|endoftext|>") > 1


def test_image_tiles():
    assert image_tokens(512, 512) == 85 + 170 * 1
    # 1024x2048 fits 2048, shortest side scaled to 768 -> 768x1536 -> 2x3 tiles.
    assert image_tokens(1024, 2048) == 85 + 170 * 6


def test_system_and_user_messages_each_cost_overhead():
    one = count_message_tokens([{"role": "user", "content": "hi"}])
    two = count_message_tokens([{"role": "system", "content": "hi"}, {"role": "user", "content": "hi"}])
    assert two - one == count_tokens("hi") + 3


def test_image_part_measured_from_file(tmp_path):
    from PIL import Image

    path = tmp_path / "page.png"
    Image.new("RGB", (1024, 2048), "white").save(path)
    message = {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": f"file://{path}"}}]}
    assert count_message_tokens([message]) == 3 + 3 + count_tokens("hi") + image_tokens(1024, 2048)


# Characters that sit at cl100k piece borders: spaces, tabs, line breaks, digits, punctuation,
# an apostrophe (contractions), letters and non-ASCII letters.
_TRICKY = st.text(alphabet=st.sampled_from(list(" \t\r\n\n'sdtA1.!?{}-éß中 \u00a0")), max_size=30)


@given(prefix=_TRICKY, middle=_TRICKY, suffix=_TRICKY)
@settings(max_examples=400, deadline=None)
def test_fixed_ends_count_equals_counting_the_whole_text(prefix, middle, suffix):
    ends = FixedEnds.around(prefix, suffix)
    text = prefix + middle + suffix
    assert ends.count(text) == count_tokens(text)


def test_fixed_ends_cut_after_the_last_line_break_of_the_prefix():
    ends = FixedEnds.around("Rules:\n- be brief\n\nMessage: ", "\n\nAnswer with one label.")
    assert ends.head == "Rules:\n- be brief\n\n"
    assert ends.tail == "Answer with one label."
    assert ends.head_tokens == count_tokens(ends.head) and ends.tail_tokens == count_tokens(ends.tail)


def test_fixed_ends_fall_back_on_a_text_they_do_not_frame():
    ends = FixedEnds.around("Rules:\nMessage: ", "")
    assert ends.count("something else entirely") == count_tokens("something else entirely")
    # A text shorter than head and tail together must not be split with overlapping ends.
    short = FixedEnds.around("a\nb", "\nb")
    assert short.count("a\nb") == count_tokens("a\nb")


def test_messages_counted_with_text_counters_equal_plain_counts():
    messages = [{"role": "system", "content": "You route.\nBe brief."}, {"role": "user", "content": "Rules:\nMessage: hi"}]
    counters = [FixedEnds.around("You route.\nBe brief.", "").count, FixedEnds.around("Rules:\nMessage: ", "").count]
    assert count_message_tokens(messages, text_counters=counters) == count_message_tokens(messages)
