"""The README's Python example runs as printed, offline, from a copy of the checkout's ticket_routing spec."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "TINKER_API_KEY")


def _readme_example() -> str:
    """The ```python block under "As a Python library"."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## As a Python library"):]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_is_five_lines_of_the_api():
    code = _readme_example()
    assert len(code.splitlines()) == 5
    assert code.startswith("import distilleval\n")


def test_the_readme_example_runs_offline(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "specs" / "ticket_routing", tmp_path / "specs" / "ticket_routing")
    shutil.copytree(REPO_ROOT / "pricing", tmp_path / "pricing")  # the spec's pricing: ../../pricing (links followed)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTILLEVAL_CACHE", str(tmp_path / "cache.sqlite"))
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    printed = io.StringIO()
    namespace: dict[str, object] = {}
    with contextlib.redirect_stdout(printed):
        exec(compile(_readme_example(), "README.md", "exec"), namespace)
    last = printed.getvalue().splitlines()[-1]
    assert re.fullmatch(r"eval run \$\d+\.\d\d, tfidf_logreg 0\.\d{3}", last), last
    [run] = (tmp_path / "runs").iterdir()
    assert (run / "summary.json").is_file()
    # The eval's result serialised: its run directory and the summary that directory holds.
    import distilleval

    as_json = json.loads(distilleval.to_json(namespace["run"]))
    assert as_json["run_dir"] == str(run.relative_to(tmp_path))
    # The summary as read back: the same as the file, but for the item rows' path, which reading makes
    # absolute (results.summary_json.read_summary) so the result points at them from anywhere.
    on_disk = json.loads((run / "summary.json").read_text())
    on_disk["item_store"]["path"] = str((run / on_disk["item_store"]["path"]).absolute())
    assert as_json["summary"] == on_disk
