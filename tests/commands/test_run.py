"""`distilleval run`: the offline pipeline end to end on the example specs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.summary import read_summary

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.parent.name for path in (REPO / "specs").glob("*/spec.yaml"))
PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "TINKER_API_KEY")


@pytest.fixture(autouse=True)
def no_network_no_keys(monkeypatch):
    """Offline means offline: any connection attempt fails the test."""
    for name in PROVIDER_KEYS:
        monkeypatch.delenv(name, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access during an offline run: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _run_dir(runs: Path) -> Path:
    (only,) = [path for path in runs.iterdir() if path.is_dir()]
    return only


def test_ticket_routing_offline_end_to_end(tmp_path, capsys):
    runs = tmp_path / "runs"
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "60"]) == 0
    run_dir = _run_dir(runs)
    summary = read_summary(run_dir)
    assert summary.mode == "offline" and summary.label_source == "reference"
    assert summary.n_items == 60
    # Baselines really ran: measured, scored on every item, timed per item.
    for name in ("tfidf_logreg", "wordllama_logreg"):
        result = summary.models[name]
        assert result.basis == "measured" and result.n_scored == 60
        assert 0.2 < result.metric.value <= 1.0
        assert result.latency_ms.n == 60 and result.cost_per_request_usd > 0
    # Teacher and student were not called: no metric, costs projected from measured prompt tokens.
    for role in ("teacher", "student"):
        result = summary.models[role]
        assert result.basis == "projected" and result.metric is None
        assert result.cost_per_request_usd > 0 and result.input_tokens.n == 60
    assert summary.models["teacher"].input_tokens.mean > 20 * summary.models["student"].input_tokens.mean
    assert (run_dir / "report.md").read_text().count("projected") > 3
    assert "<svg" in (run_dir / "report.html").read_text()
    out = capsys.readouterr().out
    assert "reference labels" in out and "tfidf_logreg" in out


def test_second_run_reuses_current_outputs_and_force_redoes(tmp_path, capsys):
    runs = tmp_path / "runs"
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    args = ["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "30"]
    assert main(args) == 0
    summary_path = _run_dir(runs) / "summary.json"
    first = summary_path.read_text()
    capsys.readouterr()
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert summary_path.read_text() == first
    assert main(args + ["--force"]) == 0
    assert "up to date" not in capsys.readouterr().out
    assert json.loads(summary_path.read_text())["created_at"] >= json.loads(first)["created_at"]


def test_changed_input_makes_a_new_run(tmp_path):
    runs = tmp_path / "runs"
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "20"]) == 0
    assert main(["run", spec, "--offline", "--runs-dir", str(runs), "--limit", "21"]) == 0
    assert len([p for p in runs.iterdir() if p.is_dir()]) == 2


def test_missing_keys_switch_to_offline_with_one_line_notice(tmp_path, capsys):
    spec = str(REPO / "specs" / "ticket_routing" / "spec.yaml")
    assert main(["run", spec, "--runs-dir", str(tmp_path), "--limit", "20"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no key for teacher (OPENAI_API_KEY)" in err and "running offline" in err


@pytest.mark.parametrize("case", EXAMPLES)
def test_every_example_spec_runs_offline(tmp_path, case):
    assert main(["run", str(REPO / "specs" / case / "spec.yaml"), "--offline", "--runs-dir", str(tmp_path), "--limit", "12"]) == 0
    summary = read_summary(_run_dir(tmp_path))
    assert summary.models["teacher"].cost_per_request_usd > summary.models["student"].cost_per_request_usd
    assert (_run_dir(tmp_path) / "report.md").is_file()


def test_bad_spec_is_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "spec.yaml"
    bad.write_text("name: x\n")
    assert main(["run", str(bad), "--offline", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()
    assert str(bad) in capsys.readouterr().err
