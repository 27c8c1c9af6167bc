"""The README's sample output of the main job is what `distilleval run ... --offline` prints.

Figures (accuracies, costs, timings, counts, the run folder's hash) move whenever a baseline or a
price does, so they are compared as "a number here"; every line, word and row must match.
"""

from __future__ import annotations

import re
from pathlib import Path

from distilleval.cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMAND = "distilleval run specs/ticket_routing/spec.yaml --offline"


def _readme_sample() -> list[str]:
    """The console block under "What the main job does"."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## What the main job does"):]
    assert f"`{COMMAND}`" in section.split("```console", 1)[0]
    return section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()


def _shape(line: str) -> str:
    """A line with its run hash and numbers masked and its spaces collapsed."""
    line = re.sub(r"-offline-[0-9a-f]{12}", "-offline-HASH", line)
    line = re.sub(r"\d[\d,]*(\.\d+)?", "#", line)
    return " ".join(line.split())


def test_the_readme_shows_what_the_offline_main_job_prints(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO_ROOT)  # the command as the README runs it, paths relative to the checkout
    runs = tmp_path / "runs"
    assert main(COMMAND.split()[1:] + ["--runs-dir", str(runs)]) == 0
    captured = capsys.readouterr()
    # The warning goes to stderr before the first line on stdout, as a terminal shows them.
    printed = (captured.err + captured.out).replace(f"{runs}/", "runs/").splitlines()
    assert [_shape(line) for line in _readme_sample()] == [_shape(line) for line in printed]
