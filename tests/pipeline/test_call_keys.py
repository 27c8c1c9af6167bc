"""Cache keys made from the rendered prompts are the keys of the built requests, byte for byte."""

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.pipeline.call_keys import RoleKeys
from distilleval.run.cache import KeyMaker, cache_key
from distilleval.spec.data import Item
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import ModelSpec

VALUES = ["plain", "", 'a "quoted" \\ back\\slash', "line\nbreak\ttab\r\x00\x1f\x7f", "über ☃ 🚀 \u2028\u2029",
          "{text} {{braces}} {\"json\": 1}", 12, 3.5, None, True]
PROMPTS = [
    ("{text}", None),
    ("Route: {text}\nFrom {who}. Literal {{text}} and {\"k\": [1]}", None),
    ("{text}", "You sort tickets. {{not a field}} ☃"),
    ("Ticket: {text}", "Rubric for {who}: \"{text}\""),
    ("{text}", ""),
]


def _model(prompt, system, **settings):
    return ModelSpec(model="openai/m", prompt=prompt, prompt_text=prompt, system=system or None,
                     system_text=system or "", **settings)


def _key_of_built_request(model, item, repeat=0):
    messages = build_messages(model, item, ())
    request = ChatRequest(messages=messages, max_tokens=model.max_tokens, temperature=model.temperature,
                          stop=tuple(model.stop), reasoning_effort=model.reasoning_effort,
                          thinking_budget_tokens=model.thinking_budget_tokens)
    return cache_key(model.model, request, repeat)


def _role_keys(model, repeat=0, image_inputs=()):
    request = ChatRequest(messages=(), max_tokens=model.max_tokens, temperature=model.temperature,
                          stop=tuple(model.stop), reasoning_effort=model.reasoning_effort,
                          thinking_budget_tokens=model.thinking_budget_tokens)
    return RoleKeys(KeyMaker(model.model, request, repeat), model, image_inputs)


@pytest.mark.parametrize(("prompt", "system"), PROMPTS)
def test_keys_match_the_built_requests_for_awkward_text(prompt, system):
    model = _model(prompt, system, max_tokens=7, temperature=0.3, stop=["\n\n"])
    keys = _role_keys(model, repeat=2)
    items = [Item(f"i{n}", {"text": value, "who": VALUES[-n - 1]}) for n, value in enumerate(VALUES)]
    expected = [_key_of_built_request(model, item, 2) for item in items]
    assert [keys.digest(item).hex() for item in items] == expected
    assert keys._direct  # and made the direct way, not by falling back
    assert [digest.hex() for digest in _role_keys(model, repeat=2).digests(items)] == expected  # all at once too


def test_a_direct_key_that_disagrees_sends_every_key_the_plain_way(monkeypatch):
    model = _model("{text}", "sys")
    keys = _role_keys(model)
    monkeypatch.setattr(RoleKeys, "_direct_digest", lambda self, item: bytes(32))
    items = [Item(f"i{n}", {"text": f"t{n}"}) for n in range(3)]
    assert [keys.digest(item).hex() for item in items] == [_key_of_built_request(model, item) for item in items]
    assert not keys._direct


def test_image_inputs_take_the_plain_way(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    model = _model("{text}", None)
    item = Item("i", {"text": "look", "image": str(tmp_path / "x.png")})
    keys = _role_keys(model, image_inputs=("image",))
    expected = KeyMaker(model.model, ChatRequest(messages=(), max_tokens=model.max_tokens, temperature=model.temperature,
                                                 stop=tuple(model.stop))).digest(build_messages(model, item, ("image",)))
    assert keys.digest(item) == expected and not keys._direct


def test_a_fixed_system_message_is_hashed_once_per_role_not_once_per_call(monkeypatch):
    import hashlib

    from distilleval.run import cache

    rubric = "You sort tickets.\n" * 500
    model = _model("Ticket: {text}", rubric)
    items = [Item(f"i{n}", {"text": f"ticket {n}"}) for n in range(100)]
    expected = [_key_of_built_request(model, item) for item in items]
    hashed: list[int] = []
    real = hashlib.sha256

    class Recording:
        def __init__(self, data=b"", inner=None):
            self._inner = inner if inner is not None else real(data)
            hashed.append(len(data))

        def update(self, data):
            hashed.append(len(data))
            self._inner.update(data)

        def copy(self):
            return Recording(inner=self._inner.copy())

        def digest(self):
            return self._inner.digest()

    monkeypatch.setattr(cache.hashlib, "sha256", Recording)
    keys = _role_keys(model)
    assert [keys.digest(item).hex() for item in items] == expected
    # The rubric once to start every key, once more for the first key's check against the built request; then
    # each call's own part (the plain way hashes the rubric again for every call: 100 times).
    assert sum(hashed) < 2 * (len(rubric) + 200) + 200 * len(items)
