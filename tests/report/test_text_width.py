"""The text-width estimate that wraps chart titles and packs slides."""

from __future__ import annotations

from distilleval.report.text_width import fit_text, text_width_px, wrap_text

TITLE = "Latency per call under the run's load (log scale; box p50–p95, tick p99; cache hits excluded)"


def test_wrapped_lines_fit_and_keep_every_word_in_order():
    lines = wrap_text(TITLE, 300, 14, bold=True)
    assert len(lines) > 1 and all(text_width_px(line, 14, bold=True) <= 300 for line in lines)
    assert " ".join(lines).split() == TITLE.split()


def test_a_word_wider_than_the_line_is_broken_by_characters():
    word = "balance_not_updated_after_cheque_or_cash_deposit"  # a BANKING77 class name
    lines = wrap_text(word, 100, 17)
    assert "".join(lines) == word and len(lines) > 2
    assert all(text_width_px(line, 17) <= 100 for line in lines)


def test_fit_text_shortens_only_what_does_not_fit():
    assert fit_text("billing", 200, 11) == "billing"
    cut = fit_text("Student: tinker://ticket-routing-run-7/sampler_weights/final", 150, 11)
    assert cut.endswith("…") and text_width_px(cut, 11) <= 150
    assert "Student: tinker://ticket-routing-run-7/sampler_weights/final".startswith(cut[:-1])


def test_the_estimate_errs_wide_of_dejavu_sans():
    # DejaVu Sans Book advances (em): 'm' 0.974, '0' 0.636, 'W' 0.989, space 0.318; the
    # estimate must be at least as wide, so text wrapped by it fits where it is drawn.
    assert text_width_px("m", 100) >= 97.4 and text_width_px("0", 100) >= 63.6
    assert text_width_px("W", 100) >= 98.9 and text_width_px(" ", 100) >= 31.8
    assert text_width_px("ab", 10, bold=True) > text_width_px("ab", 10)
