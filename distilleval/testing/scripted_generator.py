"""A scripted teacher for ``distilleval iterate``: it writes new inputs when asked and labels otherwise.

``scripted_teacher(write=..., label_of=...)`` returns an answer function for
``openai_server.ModelScript``. A prompt in the shape of the default generation prompt
(``Write N new inputs whose right answer is "LABEL" (round K ...``) is answered with N lines,
line i being ``write(label, round, i)``; any other prompt is a labelling prompt, answered with
``label_of(prompt)``. Both are plain functions of the prompt, so every answer is known to the test.

Usage::

    from distilleval.testing.openai_server import ModelScript, OpenAIServer
    from distilleval.testing.scripted_generator import scripted_teacher

    teacher = scripted_teacher(write=lambda label, round_, i: f"{label} case {round_}-{i}",
                               label_of=lambda prompt: "refund" if "refund" in prompt else "billing")
    with OpenAIServer({"teacher": ModelScript(answer=teacher)}) as server:
        ...
"""

from __future__ import annotations

import re
from collections.abc import Callable

GENERATION_REQUEST = re.compile(r'Write (\d+) new inputs whose right answer is "([^"]+)" \(round (\d+)')


def generation_request(prompt: str) -> tuple[str, int, int] | None:
    """(label, round, how many) asked for by a default-shaped generation prompt, else None."""
    match = GENERATION_REQUEST.search(prompt)
    if match is None:
        return None
    return match.group(2), int(match.group(3)), int(match.group(1))


def scripted_teacher(*, write: Callable[[str, int, int], str], label_of: Callable[[str], str]) -> Callable[[str], str]:
    """An answer function: generation prompts get ``write(label, round, i)`` for i < N, one per
    line; every other prompt gets ``label_of(prompt)``."""

    def answer(prompt: str) -> str:
        asked = generation_request(prompt)
        if asked is None:
            return label_of(prompt)
        label, round_number, count = asked
        return "\n".join(f"{i + 1}. {write(label, round_number, i)}" for i in range(count))

    return answer
