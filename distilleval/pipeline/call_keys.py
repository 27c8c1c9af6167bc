"""Response-cache keys of one role's calls, made straight from each item's fields.

A key is the SHA-256 of the request's canonical JSON (``run.cache.KeyMaker``). Built the plain
way, every call of a million-item re-run first becomes a tuple of message dicts that the JSON
encoder then walks, sorting their keys. For text-only messages the canonical JSON has one fixed
shape: ``[{"content":<system>,"role":"system"},{"content":<user>,"role":"user"}]``, so here only
the rendered prompts are escaped (JSON escaping works character by character, so a string's
encoding is exactly what the encoder writes inside the list) and slotted into that shape. Image
inputs (their content is a list of parts) take the plain way. The first key of each role is
made both ways and compared, so a change to how messages are built can never go unnoticed: the
plain way is then used for every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any

from distilleval.run.cache import KeyMaker
from distilleval.spec.data import Item
from distilleval.spec.messages import build_messages
from distilleval.spec.prompts import format_string, render_template, template_fields
from distilleval.spec.task_spec import ModelSpec


class RoleKeys:
    """Keys of one model role's calls (repeat 0 unless ``maker`` says otherwise).

    Args:
        maker: the role's ``KeyMaker`` (its model id and sampling settings).
        model: the role's spec (prompt and system text).
        image_inputs: the spec's image input fields (any: every key is made the plain way).
    """

    def __init__(self, maker: KeyMaker, model: ModelSpec, image_inputs: tuple[str, ...] = ()):
        self._maker = maker
        self._model = model
        self._image_inputs = image_inputs
        self._prompt = format_string(model.prompt_text or model.prompt)
        system = model.system_text or model.system
        self._system = format_string(system) if system else None
        # A system text without placeholders renders the same for every item: escaped once.
        self._system_json = (
            encode_basestring(render_template(system, {})) if system and not template_fields(system) else None
        )
        # What every key's messages JSON starts with, hashed once: the system message when it is fixed.
        start = "[" if self._system is None else ('[{"content":' + self._system_json + ',"role":"system"},'
                                                 if self._system_json is not None else None)
        self._started = maker.started(start) if start is not None else None
        self._direct = not image_inputs
        self._checked = False

    def digest(self, item: Item) -> bytes:
        """The 32 bytes of the key of ``item``'s call (``KeyMaker.digest`` of its built messages)."""
        if self._direct:
            if self._checked:
                return self._direct_digest(item)
            self._checked = True
            direct = self._direct_digest(item)
            if direct == self._maker.digest(self.messages(item)):
                return direct
            self._direct = False
        return self._maker.digest(self.messages(item))

    def digests(self, items: Sequence[Item]) -> list[bytes]:
        """``digest`` of each of ``items``, in one tight loop where the direct way is known to agree."""
        if not items or not (self._direct and self._started is not None):
            return [self.digest(item) for item in items]
        first = [] if self._checked else [self.digest(items[0])]
        if not self._direct:  # the check just failed: the plain way for the rest
            return first + [self.digest(item) for item in items[1:]]
        prompt, escape, rest, started = self._prompt.format_map, encode_basestring, self._maker.digest_rest, self._started
        return first + [rest(started, '{"content":' + escape(prompt(item.inputs)) + ',"role":"user"}]')
                        for item in items[len(first):]]

    def _direct_digest(self, item: Item) -> bytes:
        if self._started is None:
            return self._maker.digest_json(self._messages_json(item))
        user = '{"content":' + encode_basestring(self._prompt.format_map(item.inputs)) + ',"role":"user"}]'
        return self._maker.digest_rest(self._started, user)

    def messages(self, item: Item) -> tuple[dict[str, Any], ...]:
        """``item``'s messages, built the plain way (what the request carries)."""
        return build_messages(self._model, item, self._image_inputs)

    def _messages_json(self, item: Item) -> str:
        """The canonical JSON of ``item``'s text-only messages, without building them."""
        values = item.inputs
        user = '{"content":' + encode_basestring(self._prompt.format_map(values)) + ',"role":"user"}]'
        if self._system is None:
            return "[" + user
        system = self._system_json or encode_basestring(self._system.format_map(values))
        return '[{"content":' + system + ',"role":"system"},' + user
