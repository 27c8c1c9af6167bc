"""The scripted ticket-routing task the CLI benchmarks run: a data file of N items and a spec.

Items cycle through three labels (``billing``, ``technical``, ``other``), every one in the eval
split, each text distinct so every prompt (and cache key) is. ``write_task`` points the teacher
and the student at the given ``api_base`` URLs (the local test servers in
``distilleval.testing``) and writes gates a scripted run can pass, so ``gate`` has checks to run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABELS = ("billing", "technical", "other")


def write_data(path: Path, n_items: int) -> Path:
    """Write ``n_items`` labelled tickets to ``path`` (JSONL), all in the eval split."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n_items):
            label = LABELS[i % 3]
            handle.write(json.dumps({"id": f"t{i}", "message": f"ticket #{i} about {label}", "label": label,
                                     "split": "eval"}) + "\n")
    return path


def write_spec(path: Path, *, name: str, data: str, teacher_base: str, student_base: str,
               student_price_as: str = "tinker/lora", gates: bool = False, fast_path: bool = True) -> Path:
    """Write a spec over ``data`` whose teacher and student are ``openai/`` models on the fast path
    (``fast_path=False``: through LiteLLM and its worker processes)."""
    gate_block = ("gates: {student_min: 0.3, non_inferiority_margin: 0.05, max_error_rate: 0.02, "
                  "unmeasured_latency: skip}\n") if gates else ""
    path.write_text(f"""name: {name}
data: {{path: {data}, input: {{text: message}}, gold: label, id: id, split: {{column: split}}}}
output: {{kind: label, labels: [{", ".join(LABELS)}]}}
scorer: exact_match
teacher:
  model: openai/teacher-m
  prompt: "Route the ticket to billing, technical or other.\\nTicket: {{text}}"
  api_base: {teacher_base}
  price_as: anthropic/claude-opus-4-6
  fast_path: {str(fast_path).lower()}
student:
  model: openai/student-m
  prompt: "{{text}}"
  api_base: {student_base}
  price_as: {student_price_as}
  fast_path: {str(fast_path).lower()}
{gate_block}""")
    return path


def write_task(folder: Path, base_url: str, n_items: int, *, name: str = "bench_first_call") -> Path:
    """``data.jsonl`` and ``spec.yaml`` in ``folder``, both models at ``base_url``; returns the spec's path."""
    write_data(folder / "data.jsonl", n_items)
    return write_spec(folder / "spec.yaml", name=name, data="data.jsonl", teacher_base=base_url, student_base=base_url)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment a ``python -m distilleval`` child needs to import this checkout, offline."""
    return {**os.environ, "PYTHONPATH": str(REPO), "LITELLM_OFFLINE_MODE": "true", **extra}
