"""Tests for distilleval.report.sources: a run folder stands alone (issue 26 item 1).

``report RUN`` and ``gate RUN`` read the resolved spec and the pricing table from the run folder,
whatever the working directory, for a folder moved elsewhere after its spec was deleted; what
they need and cannot find is named, and they refuse (exit 2) instead of judging with defaults.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from distilleval.cli.main import main
from distilleval.report.sources import load_run
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_eval import _student, _teacher, write_spec
from tests.ticket_routing_fixture import write_variant

REPO = Path(__file__).resolve().parents[2]


def _eval_run(tmp_path: Path) -> Path:
    """An eval run of a spec with a 7-point margin and a 90% floor the 80%-right student misses."""
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 15)
        spec.write_text(spec.read_text() + "gates: {student_min: 0.9, non_inferiority_margin: 0.07}\n")
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--no-cache"]) == 0
    [run_dir] = (tmp_path / "runs").iterdir()
    return run_dir


def _move_alone(run_dir: Path, spec_folder: Path, archive: Path) -> Path:
    """Move the run folder to ``archive`` and delete the spec's folder: the run folder is all that is left."""
    archive.mkdir()
    moved = archive / run_dir.name
    shutil.move(run_dir, moved)
    shutil.rmtree(spec_folder)
    return moved


def _judged(run: Path, report: Path, capsys) -> tuple[int, str, int, str]:
    """(gate's exit status, its output, report's exit status, the report's verdict and non-inferiority lines)."""
    capsys.readouterr()
    gate = main(["gate", str(run)])
    gate_out = capsys.readouterr().out
    status = main(["report", str(run), "--out", str(report)])
    lines = report.read_text().splitlines() if report.exists() else []
    judged = "\n".join(line for line in lines if line.startswith("## Verdict") or "Non-inferiority (" in line)
    return gate, gate_out, status, judged


def test_an_eval_run_folder_moved_alone_is_judged_by_its_own_spec_from_anywhere(tmp_path, monkeypatch, capsys):
    run_dir = _eval_run(tmp_path)
    gate_here, out_here, report_here, judged_here = _judged(run_dir, tmp_path / "here.md", capsys)
    assert (gate_here, report_here) == (1, 0) and "student_min" in out_here
    assert "margin from spec gates.non_inferiority_margin" in judged_here and "− 7 pts" in judged_here

    moved = _move_alone(run_dir, tmp_path / "task", tmp_path / "archive")
    monkeypatch.chdir(tmp_path / "archive")
    gate_there, out_there, report_there, judged_there = _judged(moved, tmp_path / "there.md", capsys)
    assert (gate_there, report_there, judged_there) == (gate_here, report_here, judged_here), capsys.readouterr().err
    assert "student_min" in out_there and "not found" not in out_there
    header = (tmp_path / "there.md").read_text()
    assert f"spec `{tmp_path / 'task' / 'spec.yaml'}`" in header and "read from the run folder's `spec.resolved.yaml`" in header


def test_an_offline_run_folder_holds_its_resolved_spec_and_pricing(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"  # the spec names its pricing table as ../../pricing/2026-02.yaml
    shutil.copytree(REPO / "specs" / "ticket_routing", repo / "specs" / "ticket_routing")
    shutil.copytree(REPO / "pricing", repo / "pricing")
    assert main(["run", str(repo / "specs" / "ticket_routing" / "spec.yaml"), "--offline", "--runs-dir",
                 str(tmp_path / "runs"), "--limit", "12"]) == 0
    [run_dir] = (tmp_path / "runs").iterdir()
    assert (run_dir / "spec.resolved.yaml").is_file() and (run_dir / "2026-02.yaml").is_file()
    here = _judged(run_dir, tmp_path / "here.md", capsys)
    moved = _move_alone(run_dir, repo, tmp_path / "archive")  # the spec, its data and the pricing table gone
    monkeypatch.chdir(tmp_path / "archive")
    there = _judged(moved, tmp_path / "there.md", capsys)
    assert (there[0], there[2], there[3]) == (here[0], here[2], here[3]) and here[3]


def test_a_run_whose_spec_is_nowhere_is_refused_naming_the_spec(tmp_path, capsys):
    def lose_spec(summary):
        summary.spec.path = str(tmp_path / "gone.yaml")

    run = write_variant(tmp_path, lose_spec)
    report = tmp_path / "report.md"
    assert main(["report", str(run), "--out", str(report)]) == 2
    err = capsys.readouterr().err
    assert f"the run's spec {tmp_path / 'gone.yaml'} not found, and the run folder holds no spec.resolved.yaml" in err
    assert "pass --spec FILE" in err and not report.exists()  # never judged with the default margin
    assert main(["gate", str(run)]) == 2
    assert "spec.resolved.yaml" in capsys.readouterr().err


def test_a_run_whose_pricing_table_is_nowhere_is_refused_naming_it(tmp_path, capsys):
    def lose_pricing(summary):
        summary.pricing.path = str(tmp_path / "prices-gone.yaml")

    run = write_variant(tmp_path, lose_pricing)
    assert main(["report", str(run), "--out", str(tmp_path / "report.md")]) == 2
    err = capsys.readouterr().err
    assert f"the run's pricing table {tmp_path / 'prices-gone.yaml'} not found, and the run folder holds no copy of it" in err
    assert "pass --pricing FILE" in err and not (tmp_path / "report.md").exists()


def test_a_resolved_spec_of_another_spec_version_is_not_used_and_is_said(tmp_path):
    run_dir = _eval_run(tmp_path)
    resolved = run_dir / "spec.resolved.yaml"
    text = resolved.read_text()
    resolved.write_text(text.replace("non_inferiority_margin: 0.07", "non_inferiority_margin: 0.2")
                        .replace("sha256: ", "sha256: 0000", 1))
    inputs = load_run(run_dir)
    assert inputs.spec is not None and inputs.spec.gates.non_inferiority_margin == 0.07  # the spec file itself
    assert inputs.spec_file == tmp_path / "task" / "spec.yaml"
    assert any("spec.resolved.yaml is of another spec than the run's" in p for p in inputs.problems)


def test_the_run_folders_copies_are_read_before_the_files_the_run_names(tmp_path):
    run_dir = _eval_run(tmp_path)
    (tmp_path / "task" / "spec.yaml").write_text((tmp_path / "task" / "spec.yaml").read_text().replace("0.07", "0.5"))
    inputs = load_run(run_dir)
    # The spec was edited after the run: the run is judged by the spec it ran with.
    assert inputs.spec.gates.non_inferiority_margin == 0.07 and inputs.spec_file == run_dir / "spec.resolved.yaml"
    assert inputs.pricing is not None and inputs.pricing.path == run_dir / "2026-02.yaml"
    assert inputs.problems == []
