"""Chat templates rendered straight to token ids, with a training weight on every token.

A conversation is rendered piece by piece (special tokens by id, text through the tokenizer),
so training and sampling see exactly the same tokens for the same prompt, and the weights
mark what the student learns to produce: 1 on each assistant message's content and its
end-of-turn token, 0 on everything else (system, user, role headers).

Which template a base model uses comes from the catalogue (``catalogue.py``). The families:

- ``qwen3``: ``<|im_start|>role\\ncontent<|im_end|>\\n``. For the hybrid-thinking Qwen3
  models the assistant header carries an empty ``<think>\\n\\n</think>\\n\\n`` block, the
  template's "thinking off" form, so the student answers directly.
- ``qwen3_5`` (Qwen3.5 / Qwen3.6): the same turns and thinking-off block, with each message's
  text stripped as that template does (its tokenizer is not Qwen3's).
- ``qwen3_instruct``: ``qwen3`` without the thinking block.
- ``llama3``: ``<|begin_of_text|>`` then
  ``<|start_header_id|>role<|end_header_id|>\\n\\ncontent<|eot_id|>``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from distilleval.backends.tinker.catalogue import TEMPLATES, BaseModel, TemplateName, offline_catalogue
from distilleval.backends.tinker.images import ImageInput
from distilleval.backends.tinker.tokenizers import HuggingFaceTokenizer, QwenTokenizer, Tokenizer
from distilleval.errors import ConfigurationError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")

LLAMA3_SPECIAL_TOKENS = ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


@dataclass(frozen=True)
class Message:
    """One chat turn: its text, then any images (a vision student's input)."""

    role: Role
    content: str
    images: tuple[ImageInput, ...] = ()


# Stands in the token list for each position an image occupies (its tokens are the image's).
IMAGE_TOKEN = -1


@dataclass(frozen=True)
class RenderedExample:
    """A rendered conversation: one weight per token (1.0 = trained on)."""

    tokens: list[int]
    weights: list[float]
    images: tuple[ImageInput, ...] = ()

    @property
    def prompt_tokens(self) -> int:
        """Tokens with weight 0."""
        return sum(1 for weight in self.weights if weight == 0.0)

    @property
    def completion_tokens(self) -> int:
        """Tokens with a non-zero weight."""
        return len(self.weights) - self.prompt_tokens


class ChatRenderer:
    """Renders messages for one template family over one tokenizer.

    Args:
        template: ``"qwen3"``, ``"qwen3_instruct"`` or ``"llama3"``.
        tokenizer: the base model's tokenizer; it must know the template's special tokens.
    """

    def __init__(self, template: TemplateName, tokenizer: Tokenizer) -> None:
        if template not in TEMPLATES:
            raise ConfigurationError(f"unknown chat template {template!r}; expected one of {', '.join(TEMPLATES)}")
        self.template = template
        self.tokenizer = tokenizer
        try:
            if template == "llama3":
                self._bos = [tokenizer.special_id("<|begin_of_text|>")]
                self._start = tokenizer.special_id("<|start_header_id|>")
                self._end_header = tokenizer.special_id("<|end_header_id|>")
                self._end_of_turn = tokenizer.special_id("<|eot_id|>")
            else:
                self._bos = []
                self._start = tokenizer.special_id("<|im_start|>")
                self._end_of_turn = tokenizer.special_id("<|im_end|>")
                self._think = [tokenizer.special_id("<think>"), tokenizer.special_id("</think>")]
        except KeyError as err:
            raise ConfigurationError(f"the tokenizer lacks the {template} special token {err.args[0]}") from None

    @property
    def stop_token_ids(self) -> list[int]:
        """Token ids that end the assistant's turn (the sampling stop sequence)."""
        return [self._end_of_turn]

    def _header(self, role: str) -> list[int]:
        if self.template == "llama3":
            return [self._start, *self.tokenizer.encode(role), self._end_header, *self.tokenizer.encode("\n\n")]
        header = [self._start, *self.tokenizer.encode(f"{role}\n")]
        if role == "assistant" and self.template in ("qwen3", "qwen3_5"):
            header += [self._think[0], *self.tokenizer.encode("\n\n"), self._think[1], *self.tokenizer.encode("\n\n")]
        return header

    def _after_turn(self) -> list[int]:
        return [] if self.template == "llama3" else self.tokenizer.encode("\n")

    def render(self, messages: Sequence[Message]) -> RenderedExample:
        """Render a whole conversation for supervised training.

        Returns:
            Token ids with weight 1.0 on every assistant message's content and end-of-turn
            token, 0.0 elsewhere.
        """
        tokens: list[int] = list(self._bos)
        weights: list[float] = [0.0] * len(tokens)
        for message in messages:
            header = self._header(message.role)
            content = message.content.strip() if self.template == "qwen3_5" else message.content
            pictures = self._image_tokens(message)
            body = [*self.tokenizer.encode(content), *pictures, self._end_of_turn]
            tail = self._after_turn()
            trained = 1.0 if message.role == "assistant" else 0.0
            tokens += header + body + tail
            weights += [0.0] * len(header) + [trained] * len(body) + [0.0] * len(tail)
            if pictures and trained:
                raise ConfigurationError("an assistant turn cannot carry images (the student answers in text)")
        images = tuple(image for message in messages for image in message.images)
        return RenderedExample(tokens=tokens, weights=weights, images=images)

    def _image_tokens(self, message: Message) -> list[int]:
        """``<|vision_start|>``, one ``IMAGE_TOKEN`` per image token, ``<|vision_end|>``, per image."""
        if not message.images:
            return []
        if self.template != "qwen3_5":
            raise ConfigurationError(
                f"the {self.template} chat template reads no images; use a vision base model (Qwen3.5 / Qwen3.6)"
            )
        start = self.tokenizer.special_id("<|vision_start|>")
        end = self.tokenizer.special_id("<|vision_end|>")
        out: list[int] = []
        for image in message.images:
            out += [start, *([IMAGE_TOKEN] * image.tokens), end]
        return out

    def generation_prompt(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of ``messages`` followed by an open assistant header, ready to sample.

        Image positions hold ``IMAGE_TOKEN``; ``model_input`` turns them into image chunks.
        """
        return self.render(messages).tokens + self._header("assistant")

    def generation_input(self, messages: Sequence[Message]) -> tuple[list[int], tuple[ImageInput, ...]]:
        """The generation prompt and the images it holds, in order."""
        rendered = self.render(messages)
        return rendered.tokens + self._header("assistant"), rendered.images

    def parse_response(self, token_ids: Sequence[int]) -> tuple[str, bool]:
        """The assistant's text from sampled tokens.

        Returns:
            (text, ended): the text before the first end-of-turn token, and whether the
            turn ended (False when sampling stopped at max_tokens).
        """
        ids = list(token_ids)
        ended = self._end_of_turn in ids
        if ended:
            ids = ids[: ids.index(self._end_of_turn)]
        return self.tokenizer.decode(ids), ended


def base_model_for(base_model: str) -> BaseModel:
    """The catalogue entry of a base model distilleval can render (offline copy).

    Raises:
        ConfigurationError: the model is not listed, or distilleval has no renderer for it.
    """
    return offline_catalogue().require_trainable(base_model)


def template_for(base_model: str) -> TemplateName:
    """The chat template of a Tinker base model.

    Raises:
        ConfigurationError: the model is not listed, or distilleval has no renderer for it.
    """
    template = base_model_for(base_model).template
    assert template is not None  # require_trainable guarantees it
    return template


@functools.lru_cache(maxsize=1)
def _shared_qwen_tokenizer() -> QwenTokenizer:
    # Loading the 151k-entry BPE takes a few hundred ms; every Qwen3 model shares it.
    return QwenTokenizer()


def tokenizer_for(model: BaseModel) -> Tokenizer:
    """The tokenizer of ``model``: packaged for Qwen3, from ``transformers`` otherwise."""
    if model.tokenizer == "packaged_qwen3":
        return _shared_qwen_tokenizer()
    return HuggingFaceTokenizer(model.name.split(":", 1)[0])


def renderer_for(base_model: str, *, tokenizer: Tokenizer | None = None) -> ChatRenderer:
    """The chat renderer for a Tinker base model.

    Args:
        base_model: a Tinker base model id such as ``Qwen/Qwen3-8B``.
        tokenizer: use this tokenizer instead of loading the model's own (tests).

    Raises:
        ConfigurationError: unknown base model, or its tokenizer cannot be loaded.
    """
    model = base_model_for(base_model)
    assert model.template is not None
    return ChatRenderer(model.template, tokenizer if tokenizer is not None else tokenizer_for(model))


def model_input_chunks(
    tokens: Sequence[int], images: Sequence[ImageInput]
) -> list[tuple[str, list[int] | ImageInput]]:
    """Split a token list with ``IMAGE_TOKEN`` runs into ("text", ids) and ("image", ImageInput) pieces.

    Raises:
        ValueError: the runs do not match the images (count or length).
    """
    pieces: list[tuple[str, list[int] | ImageInput]] = []
    remaining = list(images)
    text: list[int] = []
    position = 0
    while position < len(tokens):
        if tokens[position] != IMAGE_TOKEN:
            text.append(tokens[position])
            position += 1
            continue
        if not remaining:
            raise ValueError("more image positions than images")
        image = remaining.pop(0)
        run = tokens[position : position + image.tokens]
        if len(run) != image.tokens or any(token != IMAGE_TOKEN for token in run):
            raise ValueError(f"image {image.source} needs {image.tokens} positions")
        if text:
            pieces.append(("text", text))
            text = []
        pieces.append(("image", image))
        position += image.tokens
    if remaining:
        raise ValueError("more images than image positions")
    if text:
        pieces.append(("text", text))
    return pieces


def to_model_input(tokens: Sequence[int], images: Sequence[ImageInput] = ()) -> object:
    """A ``tinker.types.ModelInput``: text chunks, and an ``ImageChunk`` for each image run."""
    from tinker import types

    if not images:
        return types.ModelInput.from_ints(list(tokens))
    chunks: list[types.ModelInputChunk] = []
    for _kind, value in model_input_chunks(tokens, images):
        if isinstance(value, ImageInput):
            chunks.append(types.ImageChunk(data=value.data, format=value.format, expected_tokens=value.tokens))
        else:
            chunks.append(types.EncodedTextChunk(tokens=value))
    return types.ModelInput(chunks=chunks)
