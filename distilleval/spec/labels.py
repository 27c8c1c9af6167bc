"""A label task's label set under the scorer's declared normalisation.

The scorer compares labels after the spec's ``scorer.normalize`` rules (and ``aliases``); the
data loader uses the same rules to check every gold label at load time, and the spec loader
to refuse two labels that the rules would make one.

Text is always compared in Unicode's composed form (NFC), whatever the spec declares: "café"
typed as ``e`` + a combining accent (NFD, as macOS file names and some models write it) and
as the single character ``é`` are the same label. This is not a rule a spec can turn off: the
two are the same text to every reader, only their bytes differ.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping, Sequence

from distilleval.spec.scorer_config import TextNormalization

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def unicode_form(text: str) -> str:
    """``text`` in Unicode's composed form (NFC), so that canonically equal strings compare equal.

    >>> unicode_form("cafe\u0301") == "caf\u00e9"
    True
    """
    return unicodedata.normalize("NFC", text)


def normalize_text(text: str, rules: TextNormalization) -> str:
    """Apply the declared normalisation to ``text``, in Unicode's composed form (NFC).

    NFC comes first (a decomposed character may compose to punctuation, e.g. U+037E to ``;``)
    and again last: dropping punctuation or folding case can leave a combining mark beside a
    new base character, and the result must be a fixed point (normalising twice changes nothing).

    >>> normalize_text("  Card  Lost! ", TextNormalization(case=True, whitespace=True, punctuation=True))
    'card lost'
    >>> normalize_text(" Card ", TextNormalization())
    ' Card '
    >>> normalize_text("CAFE\u0301", TextNormalization(case=True)) == "caf\u00e9"
    True
    """
    text = unicode_form(text)
    if rules.punctuation:
        text = text.translate(_PUNCTUATION)
    if rules.case:
        text = text.casefold()
    if rules.whitespace:
        text = " ".join(text.split())
    return unicode_form(text)


class LabelMatcher:
    """Maps raw text onto a label of the spec (or None) under the declared normalisation.

    Args:
        labels: the spec's label set.
        rules: the scorer's normalisation.
        aliases: label -> other spellings that count as that label.
    """

    def __init__(self, labels: Sequence[str], rules: TextNormalization,
                 aliases: Mapping[str, Sequence[str]] | None = None):
        self.labels = list(labels)
        self.rules = rules
        self._lookup: dict[str, str] = {}
        for label in self.labels:
            self._lookup.setdefault(normalize_text(label, rules), label)
        for label, spellings in (aliases or {}).items():
            for spelling in spellings:
                self._lookup.setdefault(normalize_text(spelling, rules), label)

    def match(self, text: str) -> str | None:
        """The label ``text`` names, or None when it names none."""
        return self._lookup.get(normalize_text(text, self.rules))


def label_collision(labels: Sequence[str], rules: TextNormalization) -> tuple[int, int] | None:
    """The first pair of positions ``(earlier, later)`` whose labels are equal after ``rules``.

    >>> label_collision(["balance", "refund", "Balance"], TextNormalization(case=True))
    (0, 2)
    >>> label_collision(["balance", "Balance"], TextNormalization()) is None
    True
    """
    seen: dict[str, int] = {}
    for position, label in enumerate(labels):
        key = normalize_text(label, rules)
        if key in seen:
            return seen[key], position
        seen[key] = position
    return None


def describe_rules(rules: TextNormalization) -> str:
    """The declared rules as words, e.g. ``case, punctuation``."""
    return ", ".join(name for name in ("case", "whitespace", "punctuation") if getattr(rules, name)) or "none"
