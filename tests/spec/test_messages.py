"""Rendering items into chat messages, images included."""

from __future__ import annotations

import base64

from distilleval.spec.data import Item
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import ModelSpec


def test_text_only_prompt_with_system():
    model = ModelSpec(model="m", prompt="{text}", system="You route {text}?")
    messages = build_messages(model, Item(id="1", inputs={"text": "refund"}))
    assert messages == ({"role": "system", "content": "You route refund?"}, {"role": "user", "content": "refund"})


def test_a_system_file_is_sent_first_and_byte_identical_for_every_item():
    model = ModelSpec(model="m", prompt="Message: {text}\nQueue:", system="rubric.md", system_text="The rubric.\n")
    first, second = (build_messages(model, Item(id=i, inputs={"text": t})) for i, t in (("1", "refund"), ("2", "login")))
    assert first[0] == second[0] == {"role": "system", "content": "The rubric.\n"}
    assert first[-1] == {"role": "user", "content": "Message: refund\nQueue:"}


def test_images_travel_as_base64_data_urls(tmp_path):
    image = tmp_path / "page.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    model = ModelSpec(model="m", prompt="Classify this page. {page}")
    item = Item(id="1", inputs={"page": str(image)})
    (message,) = build_messages(model, item, ["page"])
    text_part, image_part = message["content"]
    assert text_part == {"type": "text", "text": "Classify this page. "}  # the path is not leaked into the text
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == image.read_bytes()


def test_estimates_reference_images_without_reading_them(tmp_path):
    model = ModelSpec(model="m", prompt="{page}")
    item = Item(id="1", inputs={"page": str(tmp_path / "absent.png")})
    (message,) = build_messages(model, item, ["page"], embed_images=False)
    assert message["content"][1]["image_url"]["url"] == f"file://{tmp_path / 'absent.png'}"
