import pytest

from distilleval.cli.main import main


@pytest.mark.parametrize(
    ("argv", "value"),
    [(["label", "SPEC", "--limit", "0"], "'0'"), (["validate", "SPEC", "--limit", "-1"], "'-1'"),
     (["eval", "SPEC", "--limit", "0"], "'0'"), (["run", "SPEC", "--limit", "x"], "'x'")],
    ids=lambda a: " ".join(a) if isinstance(a, list) else None,
)
def test_limit_below_one_is_a_one_line_usage_error_in_every_command(argv, value, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert error_lines == [f"distilleval {argv[0]}: error: argument --limit: expected a positive integer, found {value}"]


@pytest.mark.parametrize("verb", ["align", "cost", "curve", "drift", "estimate", "eval", "import-logs", "iterate", "label",
                                  "report", "run", "score", "train", "validate"])
def test_every_pricing_option_reads_a_file(verb, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([verb, "--help"])
    assert stopped.value.code == 0
    assert "--pricing FILE" in capsys.readouterr().out
