"""Local token counting: offline cl100k, chat overhead and image tiles."""

from __future__ import annotations

import socket

from distilleval.costs.tokens import count_message_tokens, count_tokens, image_tokens


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
