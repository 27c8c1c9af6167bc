"""A judge double with known error rates, for the scripted chat server (``openai_server``).

``JudgeDouble`` is a ``ModelScript`` answer function: it reads the answer a judge prompt asks it to
grade (the text after "Answer to grade:"), asks the test's ``truth`` function whether that answer
is right, and passes a right answer with probability ``sensitivity`` and a wrong one with
probability ``1 - specificity``. Each decision is a function of the prompt and the seed alone,
so a retried or repeated request gets the same verdict (like a judge at temperature 0), and the
judge's error rates are known exactly. Pairwise prompts ("Answer 1:" / "Answer 2:") pick the
first-shown answer with probability ``first_position_bias`` and otherwise the right one (a tie
when both or neither are right).

Usage::

    double = JudgeDouble(truth=lambda answer: answer in right_answers, sensitivity=0.9, specificity=0.8)
    server.script("judge-m", ModelScript(answer=double))
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

_GRADE = re.compile(r"Answer to grade:\n(.*?)\n\n(?:Decide|Grade) ", re.DOTALL)
_PAIR = re.compile(r"Answer 1:\n(.*?)\n\nAnswer 2:\n(.*?)\n\nWhich answer", re.DOTALL)


@dataclass
class JudgeDouble:
    """A judge whose sensitivity, specificity and position bias are set by the test."""

    truth: Callable[[str], bool]
    sensitivity: float = 1.0
    specificity: float = 1.0
    first_position_bias: float = 0.0
    seed: int = 0

    def _uniform(self, prompt: str, salt: str) -> float:
        digest = hashlib.sha256(f"{self.seed}|{salt}|{prompt}".encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def __call__(self, prompt: str) -> str:
        pair = _PAIR.search(prompt)
        if pair is not None:
            return self._prefer(prompt, pair.group(1), pair.group(2))
        graded = _GRADE.search(prompt)
        if graded is None:
            return "I cannot find the answer to grade."
        right = self.truth(graded.group(1))
        passes = self._uniform(prompt, "verdict") < (self.sensitivity if right else 1 - self.specificity)
        return f"Checked against the criteria.\nVERDICT: {'PASS' if passes else 'FAIL'}"

    def _prefer(self, prompt: str, first: str, second: str) -> str:
        if self._uniform(prompt, "position") < self.first_position_bias:
            return "The first answer reads better.\nWINNER: 1"
        first_right, second_right = self.truth(first), self.truth(second)
        if first_right == second_right:
            return "Both answers are equally good.\nWINNER: tie"
        return f"One answer meets the criteria.\nWINNER: {'1' if first_right else '2'}"
