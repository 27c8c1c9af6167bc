"""`distilleval iterate`'s command line: bad `iterate:` settings are one line naming file, line
and field, exit 2, before any call or file (the loop itself: tests/pipeline/test_iterate.py)."""

import pytest

from distilleval.cli.main import main
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.pipeline.test_iterate import offline_run, write_spec


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iterate")
    with OpenAIServer() as server:
        server.script("teacher", ModelScript(answer="billing"))
        yield folder, offline_run(folder, write_spec(folder, server.base_url)), server


@pytest.mark.parametrize(("block", "field", "key"), [
    ("  per_class: 0\n", "iterate.per_class", "  per_class:"),
    ("  similarity_threshold: 1.5\n", "iterate.similarity_threshold", "  similarity_threshold:"),
    ("  max_rounds: 1\n", "iterate.max_rounds", "  max_rounds:"),
    ("  per_clas: 3\n", "iterate.per_clas", "  per_clas:"),
    ("  generation_prompt: \"Write {n} like {nothing}\"\n", "iterate.generation_prompt", "  generation_prompt:"),
    ("  generation_prompt: missing.md\n", "iterate.generation_prompt", "  generation_prompt:"),
])
def test_bad_iterate_settings_name_file_line_and_field(offline, capsys, block, field, key):
    folder, run_dir, server = offline
    bad_dir = folder / f"bad-{field.split('.')[1]}-{len(block)}"
    bad_dir.mkdir()
    bad = write_spec(bad_dir, server.base_url, iterate_block=block)
    capsys.readouterr()
    assert main(["iterate", run_dir, "--spec", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    line = 1 + next(n for n, text in enumerate(bad.read_text().splitlines()) if text.startswith(key))
    assert f"{bad}:{line}: {field}" in err
    assert server.log == [] and not list(folder.glob("runs/*/round-*"))


def test_a_spec_without_a_baseline_is_refused(offline, capsys):
    folder, run_dir, server = offline
    bad_dir = folder / "no-baseline"
    bad_dir.mkdir()
    spec = write_spec(bad_dir, server.base_url)
    spec.write_text(spec.read_text().replace("baselines: [tfidf_logreg]\n", ""))
    assert main(["iterate", run_dir, "--spec", str(spec)]) == 2
    assert "baselines: iterate retrains a local baseline" in capsys.readouterr().err
    assert server.log == []


def test_student_tinker_needs_a_run_that_trained_one(offline, capsys):
    folder, run_dir, server = offline
    capsys.readouterr()
    assert main(["iterate", run_dir, "--student", "tinker"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--student tinker needs a run whose student is a measured tinker://" in err
    assert main(["iterate", run_dir, "--student", "tinker", "--baseline", "tfidf_logreg"]) == 2
    assert "cannot go with --student tinker" in capsys.readouterr().err
    assert server.log == [] and not list(folder.glob("runs/*/round-*"))
