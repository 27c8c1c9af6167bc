"""Count tokens locally, with no network: tiktoken's cl100k_base from the files LiteLLM ships.

The model's own tokenizer differs from cl100k; estimates name this basis. Chat overhead
follows OpenAI's accounting (3 tokens per message plus 3 to prime the reply), and images are
counted with the high-detail tile formula (85 + 170 per 512-px tile).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilleval.errors import ConfigurationError

if TYPE_CHECKING:
    import tiktoken

ENCODING_NAME = "cl100k_base"
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3


def _bundled_tiktoken_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


@functools.lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    import tiktoken

    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        bundled = _bundled_tiktoken_dir()
        if bundled is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
    try:
        return tiktoken.get_encoding(ENCODING_NAME)
    except Exception as err:  # tiktoken raises plain exceptions when it cannot download
        raise ConfigurationError(
            f"cannot load the {ENCODING_NAME} tokenizer offline ({err.__class__.__name__}); "
            "install litellm (it ships the file) or set TIKTOKEN_CACHE_DIR"
        ) from None


def count_tokens(text: str) -> int:
    """Tokens in ``text`` under cl100k_base."""
    return len(_encoding().encode(text, disallowed_special=()))


def count_tokens_many(texts: Sequence[str]) -> list[int]:
    """``count_tokens`` of each text, each distinct text encoded once."""
    # tiktoken's threaded ``encode_ordinary_batch`` measured 2-4x slower than this loop for prompts
    # of 25 to 2,000 characters: a thread pool task per text costs more than encoding it.
    encode = _encoding().encode
    counts = {text: len(encode(text, disallowed_special=())) for text in set(texts)}
    return [counts[text] for text in texts]


def image_tokens(width: int, height: int) -> int:
    """Tokens a high-detail image costs: fit in 2048x2048, shortest side to 768, 512-px tiles."""
    scale = min(1.0, 2048 / max(width, height))
    fitted_width, fitted_height = width * scale, height * scale
    scale = min(1.0, 768 / min(fitted_width, fitted_height))
    fitted_width, fitted_height = fitted_width * scale, fitted_height * scale
    tiles = math.ceil(fitted_width / 512) * math.ceil(fitted_height / 512)
    return 85 + 170 * tiles


def _image_size(url: str) -> tuple[int, int] | None:
    if not url.startswith("file://"):
        return None
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(url.removeprefix("file://")) as image:
        return image.size


def _starts_a_piece_after_newline(text: str, index: int) -> bool:
    # cl100k splits text into pieces before merging, and no piece holds a line break followed by a
    # non-space character: so a newline then a letter, digit or symbol is always a piece border,
    # whatever surrounds it, and the tokens on either side never depend on the other side.
    return text[index - 1] in "\r\n" and not text[index].isspace()


@dataclass(frozen=True)
class FixedEnds:
    """The fixed start and end every text of a template shares, their tokens counted once.

    ``head`` ends and ``tail`` starts at a piece border of the tokenizer (a line break followed by
    a non-space character), so the tokens of ``head + middle + tail`` are exactly the tokens of
    the three parts counted separately. That is what keeps a 5 KB rubric from being re-encoded for
    each of 150,000 items.
    """

    head: str = ""
    tail: str = ""
    head_tokens: int = 0
    tail_tokens: int = 0

    @classmethod
    def around(cls, prefix: str, suffix: str) -> "FixedEnds":
        """The largest border-cut head of ``prefix`` and tail of ``suffix`` (either may be empty).

        Args:
            prefix: text every rendered prompt starts with (the template before its first field).
            suffix: text every rendered prompt ends with (the template after its last field).
        """
        head_end = next((i for i in range(len(prefix) - 1, 0, -1) if _starts_a_piece_after_newline(prefix, i)), 0)
        tail_start = next((i for i in range(1, len(suffix)) if _starts_a_piece_after_newline(suffix, i)), len(suffix))
        head, tail = prefix[:head_end], suffix[tail_start:]
        return cls(head, tail, count_tokens(head), count_tokens(tail))

    def count(self, text: str) -> int:
        """Tokens in ``text``, equal to ``count_tokens(text)``; only the part between the ends is encoded."""
        if len(text) >= len(self.head) + len(self.tail) and text.startswith(self.head) and text.endswith(self.tail):
            return self.head_tokens + self.tail_tokens + count_tokens(text[len(self.head) : len(text) - len(self.tail)])
        return count_tokens(text)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """``count`` of each text: the middles encoded together (``count_tokens_many``)."""
        head, tail = len(self.head), len(self.tail)
        if not head and not tail:
            return count_tokens_many(texts)
        fits = [len(text) >= head + tail and text.startswith(self.head) and text.endswith(self.tail) for text in texts]
        middles = [text[head : len(text) - tail] if fit else text for text, fit in zip(texts, fits)]
        ends = self.head_tokens + self.tail_tokens
        return [count + ends if fit else count for count, fit in zip(count_tokens_many(middles), fits)]


def count_message_tokens(
    messages: tuple[dict[str, Any], ...] | list[dict[str, Any]],
    *,
    text_counters: Sequence[Callable[[str], int]] = (),
) -> int:
    """Input tokens of a chat request: content plus per-message overhead.

    Image parts given as ``file://`` URLs are measured from the file (Pillow); others count as
    one 512x512 tile.

    Args:
        messages: the chat messages as the runner sends them.
        text_counters: the n-th message's text is counted by ``text_counters[n]`` when given, else
            by ``count_tokens``; a ``FixedEnds.count`` gives the same number faster for a message
            rendered from a known template.
    """
    total = TOKENS_REPLY_PRIMING
    for position, message in enumerate(messages):
        count_text = text_counters[position] if position < len(text_counters) else count_tokens
        total += TOKENS_PER_MESSAGE
        content = message["content"]
        if isinstance(content, str):
            total += count_text(content)
            continue
        for part in content:
            if part.get("type") == "text":
                total += count_text(part["text"])
            elif part.get("type") == "image_url":
                size = _image_size(part["image_url"]["url"])
                total += image_tokens(*size) if size else image_tokens(512, 512)
    return total


@dataclass(frozen=True)
class TokenCounter:
    """A model's own local tokenizer, for counting what it will be billed for.

    Attributes:
        name: how reports name it (``Qwen/Qwen3-8B tokenizer and chat template``).
        count_request: input tokens of a chat request, as the model's server renders it.
        count_answer: tokens of an answer's text.
        training_row_extra: tokens a training row holds beyond its request and answer (the end
            of turn and what follows it, less the one token the next-token shift drops), so
            that request + answer + extra is what one row costs to train on.
    """

    name: str
    count_request: Callable[[Sequence[dict[str, Any]]], int]
    count_answer: Callable[[str], int]
    training_row_extra: int = 0


LOCAL_TOKENIZER = f"{ENCODING_NAME} (tiktoken, OpenAI chat overhead)"
"""How reports name the default counter: ``count_message_tokens`` and ``count_tokens``."""

