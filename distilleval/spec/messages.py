"""Render one item into the chat messages a model role receives.

A role's ``system`` text (the teacher's rubric) comes first, as its own message, so every
request starts with the same bytes and a provider's prompt cache can serve them; the item
comes last, in the user message. Text inputs fill the role's prompt template. Image inputs
become OpenAI-style ``image_url`` content parts carrying a base64 data URL, placed after the
text, so every provider LiteLLM supports receives the same request.
"""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

from distilleval.spec.data import Item
from distilleval.spec.prompts import render_template
from distilleval.spec.task_spec import ModelSpec


def image_data_url(path: str | Path) -> str:
    """A ``data:`` URL holding the image file's bytes."""
    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:{mime};base64,{encoded}"


def build_messages(
    model: ModelSpec, item: Item, image_inputs: list[str] | tuple[str, ...] = (), *, embed_images: bool = True
) -> tuple[dict[str, Any], ...]:
    """The messages for ``item`` under ``model``'s prompt.

    Args:
        model: the role's spec (``prompt_text`` and ``system_text`` already read by the loader).
        item: the item; image fields hold file paths.
        image_inputs: which input fields are images.
        embed_images: False puts the path in the part instead of the bytes (token estimates,
            logs); the runner always embeds.
    """
    text_values = {name: ("" if name in image_inputs else value) for name, value in item.inputs.items()}
    text = render_template(model.prompt_text or model.prompt, text_values)
    content: Any = text
    images = [item.inputs[name] for name in image_inputs if name in item.inputs]
    if images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for path in images:
            url = image_data_url(path) if embed_images else f"file://{path}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        content = parts
    messages: list[dict[str, Any]] = []
    system = model.system_text or model.system
    if system:
        messages.append({"role": "system", "content": render_template(system, text_values)})
    messages.append({"role": "user", "content": content})
    return tuple(messages)
