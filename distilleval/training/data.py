"""Short-format training data: read, validate, and turn into supervised token examples.

The short format is one JSON object per line::

    {"messages": [{"role": "user", "content": "<raw input>"}, {"role": "assistant", "content": "<label>"}]}

Optional ``system`` turns may come first; the conversation must end with an assistant turn.
A vision student's user turn carries its images as content parts, text first::

    {"role": "user", "content": [{"type": "text", "text": "Document type:"},
                                 {"type": "image", "path": "pages/0001.png"}]}

(``path`` relative to the data file, PNG or JPEG).
Every problem is reported as ``FILE:LINE: field: what is wrong`` before anything is trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from distilleval.backends.tinker.images import ImageInput, load_image
from distilleval.backends.tinker.rendering import ROLES, ChatRenderer, Message
from distilleval.errors import ConfigurationError, DataError
from distilleval.spec.data import iter_jsonl


@dataclass(frozen=True)
class Conversation:
    """One training row and the line it came from."""

    line: int
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class SupervisedExample:
    """A rendered training row: token ids and a weight per token (1 = trained on)."""

    line: int
    tokens: list[int]
    weights: list[float]
    images: tuple[ImageInput, ...] = ()

    @property
    def trained_tokens(self) -> int:
        """Tokens the loss is computed on (assistant content and end-of-turn)."""
        return sum(1 for weight in self.weights if weight > 0)


def _check_parts(parts: list, where: str, base: Path | None) -> tuple[str, tuple[ImageInput, ...]]:
    """A user turn's content parts: the joined text and the images, read from disk."""
    texts: list[str] = []
    images: list[ImageInput] = []
    for index, part in enumerate(parts):
        at = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str) and set(part) == {"type", "text"}:
            if images:
                raise DataError(f"{at}: text must come before the images in a turn")
            texts.append(part["text"])
        elif kind == "image" and isinstance(part.get("path"), str) and set(part) == {"type", "path"}:
            path = Path(part["path"])
            if not path.is_absolute() and base is not None:
                path = base / path
            if not path.is_file():
                raise DataError(f"{at}.path: image file not found: {path}")
            images.append(load_image(path, where=f"{at}.path"))
        else:
            raise DataError(f"{at}: expected {{type: text, text}} or {{type: image, path}}")
    return "".join(texts), tuple(images)


def _check_messages(value: object, where: str, base: Path | None = None) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: messages: expected a non-empty list of {{role, content}} objects")
    messages: list[Message] = []
    for index, turn in enumerate(value):
        field = f"messages[{index}]"
        if not isinstance(turn, dict):
            raise DataError(f"{where}: {field}: expected an object with role and content, found {type(turn).__name__}")
        unknown = set(turn) - {"role", "content"}
        if unknown:
            raise DataError(f"{where}: {field}: unknown key {sorted(unknown)[0]!r} (expected role and content)")
        role = turn.get("role")
        if role not in ROLES:
            raise DataError(f"{where}: {field}.role: expected one of {', '.join(ROLES)}, found {role!r}")
        content = turn.get("content")
        images: tuple[ImageInput, ...] = ()
        if isinstance(content, list) and role == "user":
            content, images = _check_parts(content, f"{where}: {field}.content", base)
        elif not isinstance(content, str):
            raise DataError(f"{where}: {field}.content: expected a string, found {type(content).__name__}")
        if role == "system" and any(m.role != "system" for m in messages):
            raise DataError(f"{where}: {field}.role: a system turn must come before the others")
        messages.append(Message(role=role, content=content, images=images))
    if messages[-1].role != "assistant":
        raise DataError(f"{where}: messages[{len(messages) - 1}].role: the last turn must be the assistant's (the label)")
    if messages[-1].content.strip() == "":
        raise DataError(f"{where}: messages[{len(messages) - 1}].content: the label is empty")
    if not any(m.role == "user" for m in messages):
        raise DataError(f"{where}: messages: there is no user turn (the raw input)")
    return tuple(messages)


def read_conversations(path: Path) -> list[Conversation]:
    """Read and validate a short-format JSONL file.

    Args:
        path: the JSONL file.

    Returns:
        One ``Conversation`` per non-blank line, in file order.

    Raises:
        DataError: the file is missing, unreadable, empty, or a line is malformed; the
            message names the file, the line and the field.
    """
    rows: list[Conversation] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, record in iter_jsonl(handle, path, expected="a JSON object with 'messages'"):
                where = f"{path}:{number}"
                if "messages" not in record:
                    raise DataError(f"{where}: messages: required field is missing")
                rows.append(Conversation(line=number, messages=_check_messages(record["messages"], where, path.parent)))
    except FileNotFoundError:
        raise DataError(f"{path}: training data file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read training data ({err})") from None
    if not rows:
        raise DataError(f"{path}: the training data file has no rows")
    return rows


def build_examples(
    conversations: Sequence[Conversation],
    renderer: ChatRenderer,
    *,
    source: Path,
    max_tokens: int = 32_768,
) -> list[SupervisedExample]:
    """Render conversations into supervised examples (loss on assistant tokens only).

    Raises:
        DataError: a row renders longer than ``max_tokens`` (names the line).
    """
    examples: list[SupervisedExample] = []
    for conversation in conversations:
        try:
            rendered = renderer.render(conversation.messages)
        except ConfigurationError as err:  # e.g. images for a text-only template
            raise DataError(f"{source}:{conversation.line}: messages: {err}") from None
        if len(rendered.tokens) > max_tokens:
            raise DataError(
                f"{source}:{conversation.line}: messages: {len(rendered.tokens)} tokens is over the limit of {max_tokens}"
            )
        examples.append(
            SupervisedExample(line=conversation.line, tokens=rendered.tokens, weights=rendered.weights, images=rendered.images)
        )
    return examples
