import argparse

import pytest

from distilleval.commands.argument_types import (
    latency_probe,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)


def test_positive_int_accepts_one_and_rejects_zero_and_text():
    assert positive_int("1") == 1
    with pytest.raises(argparse.ArgumentTypeError, match="expected a positive integer, found '0'"):
        positive_int("0")
    with pytest.raises(argparse.ArgumentTypeError, match="expected a positive integer, found '1.5'"):
        positive_int("1.5")


def test_non_negative_int_accepts_zero_and_rejects_minus_one():
    assert non_negative_int("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match="expected a whole number >= 0"):
        non_negative_int("-1")


def test_positive_float_rejects_nan_and_zero():
    # NaN compares False with everything, so a plain ``value <= 0`` check would let it through.
    assert positive_float("0.5") == 0.5
    for text in ("nan", "0", "-2", "inf", "1e400"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a positive number"):
            positive_float(text)


def test_non_negative_float_accepts_zero_and_rejects_nan_and_text():
    assert non_negative_float("0") == 0.0
    with pytest.raises(argparse.ArgumentTypeError, match="expected a non-negative number, found 'nan'"):
        non_negative_float("nan")
    # `--days-per-month inf` printed an "inf-day month" table and exited 0.
    with pytest.raises(argparse.ArgumentTypeError, match="expected a non-negative number, found 'inf'"):
        non_negative_float("inf")
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number, found 'ten'"):
        non_negative_float("ten")


def test_latency_probe_reads_n_and_n_at_k():
    assert latency_probe("50") == (50, 1)
    assert latency_probe("50@4") == (50, 4)
    assert latency_probe("0") == (0, 1)
    for bad in ("", "x", "5@", "5@0", "-1", "5@2@3"):
        with pytest.raises(argparse.ArgumentTypeError):
            latency_probe(bad)


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "RUN", "--payback-days", "inf"],
        ["train", "SPEC", "--lr", "inf"],
        ["train", "SPEC", "--lr", "nan"],
        ["train", "SPEC", "--checkpoint-ttl-days", "inf"],
        ["train", "SPEC", "--connect-deadline", "-1"],
        ["train", "SPEC", "--batch-size", "0"],
        ["train", "SPEC", "--rank", "-8"],
        ["train", "SPEC", "--max-restarts", "-1"],
        ["label", "SPEC", "--batch-poll", "inf"],
        ["label", "SPEC", "--concurrency", "0"],
        ["label", "SPEC", "--max-retries", "-1"],
    ],
    ids=lambda argv: " ".join(argv[2:]),
)
def test_number_flags_refuse_infinity_nan_and_out_of_range_values(argv, capsys):
    # Each of these once reached the command as inf/NaN/negative and misbehaved far from the flag.
    from distilleval.cli.main import main

    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert error_lines and f"argument {argv[2]}:" in error_lines[-1]
