"""Byte-level tokenizers carrying a chat template's special tokens, for rendering tests.

They let a test render and tokenize Tinker chat templates without loading a model's real
tokenizer (which ``transformers`` would fetch). Used by tests only.
"""

from __future__ import annotations

from distilleval.backends.tinker.catalogue import TemplateName
from distilleval.backends.tinker.rendering import LLAMA3_SPECIAL_TOKENS
from distilleval.backends.tinker.tokenizers import ByteTokenizer

QWEN_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>",
                       "<|vision_start|>", "<|vision_end|>")


def byte_tokenizer_for(template: TemplateName) -> ByteTokenizer:
    """A byte-level tokenizer with ``template``'s special tokens (Llama 3's, else Qwen's)."""
    if template == "llama3":
        return ByteTokenizer(LLAMA3_SPECIAL_TOKENS)
    return ByteTokenizer(QWEN_SPECIAL_TOKENS)
