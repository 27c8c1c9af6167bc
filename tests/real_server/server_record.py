"""Reading a run's per-call figures and the server's record of the same calls, side by side."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.real_server.task import REVIEWS, STUDENT_MODEL, STUDENT_RATES, TEACHER_MODEL, TEACHER_RATES

ROLE_OF_MODEL = {TEACHER_MODEL: "teacher", STUDENT_MODEL: "student"}
RATES = {"teacher": TEACHER_RATES, "student": STUDENT_RATES}
_ITEM_OF_REVIEW = {review: f"r{number:02d}" for number, (review, _) in enumerate(REVIEWS)}


@dataclass(frozen=True)
class ServerCall:
    """One chat completion as the proxy saw it: llama.cpp's answer and the proxy's clocks."""

    item_id: str
    role: str
    received_at: float
    status: int
    text: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int
    server_ms: float | None  # llama.cpp's own timings: prompt_ms + predicted_ms
    upstream_ms: float  # the proxy's clock around the server

    @property
    def hand_priced_usd(self) -> float:
        """The call's cost from the server's usage and the price row's rates (US$ per 1M tokens)."""
        rates = RATES[self.role]
        uncached = self.prompt_tokens - self.cached_tokens
        return (uncached * rates["input"] + self.cached_tokens * rates["cached_input"]
                + self.completion_tokens * rates["output"]) / 1e6


def server_calls(exchanges: list[dict[str, Any]]) -> list[ServerCall]:
    """The chat completions among the proxy's exchanges, tied to their item and role."""
    calls = []
    for exchange in exchanges:
        if not exchange["path"].endswith("/chat/completions"):
            continue
        request, response = exchange["request"], exchange["response"]
        role = ROLE_OF_MODEL[request["model"]]
        last_user = request["messages"][-1]["content"]
        [item_id] = [item for review, item in _ITEM_OF_REVIEW.items() if review in last_user]
        ok = exchange["status"] == 200 and isinstance(response, dict)
        usage = response.get("usage", {}) if ok else {}
        timings = response.get("timings") if ok else None
        choice = response["choices"][0] if ok else {}
        calls.append(ServerCall(
            item_id=item_id, role=role, received_at=exchange["received_at"], status=exchange["status"],
            text=choice.get("message", {}).get("content"), finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
            cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
            server_ms=timings["prompt_ms"] + timings["predicted_ms"] if timings else None,
            upstream_ms=exchange["upstream_ms"]))
    return calls


@dataclass(frozen=True)
class RecordedCall:
    """One row of a run's records.sqlite."""

    item_id: str
    role: str
    status: str
    text: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int
    latency_ms: float | None
    cost_usd: float
    cache_hit: bool
    finish_reason: str | None


def recorded_calls(run_dir: Path) -> list[RecordedCall]:
    """Every row of the run store, as distilleval recorded it."""
    with sqlite3.connect(run_dir / "records.sqlite") as db:
        rows = db.execute(
            "SELECT item_id, model, status, text, input_tokens, output_tokens, cached_input_tokens, latency_ms, "
            "cost_usd, cache_hit, finish_reason FROM records").fetchall()
    return [RecordedCall(*row[:9], bool(row[9]), row[10]) for row in rows]
