"""Read logged teacher calls: OpenAI-style chat request/response pairs, and OpenAI Batch API files.

Accepted shapes (docs/import-logs.md has an example of each):

- **chat pairs** (JSONL, what proxies and gateways export): one object per line with
  ``request`` (a chat completions body: ``model``, ``messages``, ...) and ``response`` (a chat
  completion: ``choices[0].message.content``, ``usage``, ``model``). A line whose ``response`` is
  missing or holds ``error`` is a failed call.
- **batch input** (JSONL): ``{"custom_id", "method", "url", "body": <chat completions body>}``.
- **batch output** (JSONL): ``{"custom_id", "response": {"status_code", "body": <chat
  completion>}, "error"}``. Input and output lines are paired by ``custom_id`` over every file
  given, so the two files may come in any order.

The kind of each file is read from its first object. Every problem names the file, the line and
the field, as ``DataError`` (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilleval.errors import DataError
from distilleval.spec.data import iter_jsonl

CHAT_PAIRS = "chat pairs"
BATCH_INPUT = "batch input"
BATCH_OUTPUT = "batch output"


@dataclass(frozen=True)
class LoggedCall:
    """One logged teacher call.

    Attributes:
        where: ``FILE:LINE`` of the request (for batch files: of the input line).
        messages: the request's chat messages as logged.
        answer: the assistant's text, or None when the call failed (``failure`` says why).
        input_tokens / output_tokens / cached_input_tokens: the response's usage block.
        request_model: the ``model`` the request named; ``response_model`` the one that answered.
        batch: the call came from Batch API files (priced at the batch tier where the table has one).
    """

    where: str
    messages: tuple[dict[str, Any], ...]
    answer: str | None
    failure: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    request_model: str | None = None
    response_model: str | None = None
    batch: bool = False


def file_kind(first: dict[str, Any], where: str) -> str:
    """Which accepted shape a log file has, from its first object."""
    if "request" in first:
        return CHAT_PAIRS
    if "custom_id" in first and "body" in first:
        return BATCH_INPUT
    if "custom_id" in first and ("response" in first or "error" in first):
        return BATCH_OUTPUT
    raise DataError(
        f"{where}: not a logged chat call: expected {{request, response}} (chat pairs), "
        "{custom_id, body} (batch input) or {custom_id, response} (batch output)"
    )


def _messages(body: Any, where: str, field: str) -> tuple[dict[str, Any], ...]:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise DataError(f"{where}: {field}.messages: expected a non-empty list of {{role, content}} objects")
    return tuple(messages)


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (an absent or malformed usage block)."""
    return value if isinstance(value, dict) else {}


def _completion(body: Any, where: str, field: str) -> dict[str, Any]:
    """The answer and usage of a chat completion body; ``failure`` set when it has no answer."""
    if not isinstance(body, dict):
        return {"answer": None, "failure": "no response"}
    if body.get("error"):
        return {"answer": None, "failure": "the call failed"}
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise DataError(f"{where}: {field}.choices: expected a non-empty list")
    content = (choices[0].get("message") or {}).get("content")
    if content is not None and not isinstance(content, str):
        raise DataError(f"{where}: {field}.choices[0].message.content: expected a string, found {type(content).__name__}")
    usage = _mapping(body.get("usage"))
    details = _mapping(usage.get("prompt_tokens_details"))
    return {
        "answer": content,
        "failure": None if content is not None else "no answer text",
        "input_tokens": int(usage.get("prompt_tokens") or 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cached_input_tokens": int(details.get("cached_tokens") or 0),
        "response_model": body.get("model") if isinstance(body.get("model"), str) else None,
    }


def _request_model(body: dict[str, Any]) -> str | None:
    return body.get("model") if isinstance(body.get("model"), str) else None


def _read_chat_pairs(records: Iterator[tuple[int, dict[str, Any]]], path: Path) -> Iterator[LoggedCall]:
    for number, record in records:
        where = f"{path}:{number}"
        if "request" not in record:
            raise DataError(f"{where}: request: required field is missing (this file holds chat pairs)")
        request = record["request"]
        messages = _messages(request, where, "request")
        completion = _completion(record.get("response"), where, "response")
        yield LoggedCall(where=where, messages=messages, request_model=_request_model(request), **completion)


def read_log_files(paths: list[Path]) -> list[LoggedCall]:
    """Every logged call in ``paths``, batch inputs paired with their outputs by ``custom_id``.

    Raises:
        DataError: a file is missing, unreadable or not one of the accepted shapes; a line lacks
            a required field; a ``custom_id`` repeats, or a batch output has no input line.
    """
    calls: list[LoggedCall] = []
    batch_inputs: dict[str, tuple[str, dict[str, Any]]] = {}
    batch_outputs: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in paths:
        try:
            with path.open("rb") as handle:
                records = iter_jsonl(handle, path, expected="a JSON object (one logged call)")
                first = next(records, None)
                if first is None:
                    raise DataError(f"{path}: the log file has no records")
                kind = file_kind(first[1], f"{path}:{first[0]}")
                chained = _chain(first, records)
                if kind == CHAT_PAIRS:
                    calls.extend(_read_chat_pairs(chained, path))
                else:
                    _collect_batch(chained, path, kind, batch_inputs if kind == BATCH_INPUT else batch_outputs)
        except FileNotFoundError:
            raise DataError(f"{path}: log file not found") from None
        except OSError as err:
            raise DataError(f"{path}: cannot read the log file ({err.strerror or err})") from None
    calls.extend(_pair_batches(batch_inputs, batch_outputs))
    return calls


def _chain(first: tuple[int, dict[str, Any]], rest: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
    yield first
    yield from rest


def _collect_batch(
    records: Iterator[tuple[int, dict[str, Any]]], path: Path, kind: str, into: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    for number, record in records:
        where = f"{path}:{number}"
        custom_id = record.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise DataError(f"{where}: custom_id: expected a non-empty string ({kind} file)")
        if custom_id in into:
            raise DataError(f"{where}: custom_id: {custom_id!r} repeats (first at {into[custom_id][0]})")
        if kind == BATCH_INPUT and "body" not in record:
            raise DataError(f"{where}: body: required field is missing (batch input file)")
        into[custom_id] = (where, record)


def _pair_batches(
    inputs: dict[str, tuple[str, dict[str, Any]]], outputs: dict[str, tuple[str, dict[str, Any]]]
) -> Iterator[LoggedCall]:
    for custom_id, (where, _) in outputs.items():
        if custom_id not in inputs:
            raise DataError(f"{where}: custom_id: {custom_id!r} has no line in any batch input file given")
    for custom_id, (where, record) in inputs.items():
        body = record["body"]
        messages = _messages(body, where, "body")
        if custom_id not in outputs:
            yield LoggedCall(where=where, messages=messages, answer=None, failure="no batch output line",
                             request_model=_request_model(body), batch=True)
            continue
        out_where, output = outputs[custom_id]
        response = _mapping(output.get("response"))
        if output.get("error") or response.get("status_code", 200) != 200:
            yield LoggedCall(where=where, messages=messages, answer=None, failure="the call failed",
                             request_model=_request_model(body), batch=True)
            continue
        completion = _completion(response.get("body"), out_where, "response.body")
        yield LoggedCall(where=where, messages=messages, request_model=_request_model(body), batch=True, **completion)
