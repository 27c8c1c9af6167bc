"""How wide a line of text will be when a browser draws it, estimated without a browser.

Charts (inline SVG) and slides (Marp) are laid out here, in Python, before any browser sees
them, so titles must be wrapped and tables split by an estimate. The estimate errs wide: its
per-character advances are those of DejaVu Sans, the widest of the sans-serif fonts a browser
commonly falls back to (Helvetica, Arial, Liberation Sans and the system fonts of macOS and
Windows are all narrower), so text wrapped to fit by this estimate fits in any of them.
The tests check the result in a real headless Chromium.
"""

from __future__ import annotations

import unicodedata

# Advance widths in em, rounded up from DejaVu Sans Book.
_NARROW = dict.fromkeys("il.,:;'|!()[]{}jI`", 0.36) | dict.fromkeys("frt", 0.42) | {" ": 0.32, "-": 0.37, "/": 0.34}
_WIDE = dict.fromkeys("mwMW%", 1.0) | dict.fromkeys("—…", 1.0) | {"@": 1.0}
BOLD_FACTOR = 1.1


def char_width_em(char: str) -> float:
    """The advance of one character in em (an upper bound for common sans-serif fonts)."""
    if char in _NARROW:
        return _NARROW[char]
    if char in _WIDE:
        return _WIDE[char]
    if char.isdigit() or char.islower():
        return 0.64
    if char.isupper():
        return 0.78
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    if unicodedata.category(char).startswith("M"):
        return 0.0  # combining marks take no advance of their own
    return 0.84


def text_width_px(text: str, font_size_px: float, *, bold: bool = False) -> float:
    """Estimated width of ``text`` on one line at ``font_size_px``.

    >>> text_width_px("", 12)
    0.0
    >>> round(text_width_px("ab", 10), 1)
    12.8
    """
    width = sum((char_width_em(c) for c in text), 0.0) * font_size_px
    return width * BOLD_FACTOR if bold else width


def wrap_text(text: str, max_width_px: float, font_size_px: float, *, bold: bool = False) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width_px`` (at spaces; a word wider than
    the line is broken by characters, as a browser breaks an overlong word with ``overflow-wrap``).

    >>> wrap_text("a b", 100, 10)
    ['a b']
    >>> wrap_text("", 100, 10)
    ['']
    """
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width_px(candidate, font_size_px, bold=bold) <= max_width_px:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while text_width_px(word, font_size_px, bold=bold) > max_width_px and len(word) > 1:
            cut = _longest_prefix(word, max_width_px, font_size_px, bold)
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    lines.append(current)
    return lines


def _longest_prefix(word: str, max_width_px: float, font_size_px: float, bold: bool) -> int:
    for cut in range(len(word) - 1, 0, -1):
        if text_width_px(word[:cut], font_size_px, bold=bold) <= max_width_px:
            return cut
    return 1


def fit_text(text: str, max_width_px: float, font_size_px: float, *, bold: bool = False) -> str:
    """``text`` cut with an ellipsis so that it is no wider than ``max_width_px``.

    >>> fit_text("short", 100, 10)
    'short'
    >>> fit_text("a very long model name", 60, 10)
    'a very lo…'
    """
    if text_width_px(text, font_size_px, bold=bold) <= max_width_px:
        return text
    for cut in range(len(text) - 1, 0, -1):
        shortened = text[:cut].rstrip() + "…"
        if text_width_px(shortened, font_size_px, bold=bold) <= max_width_px:
            return shortened
    return "…"
