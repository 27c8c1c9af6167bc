"""The offline `distilleval run`: no figure it reports depends on the order of the data file's rows."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "specs" / "ticket_routing"

# Keys whose values are wall-clock measurements (or identify the run) rather than results.
TIMING_KEYS = {"created_at", "run_id", "latency_ms", "latency", "loop_lag_ms"}


def comparable(summary: dict) -> dict:
    """``summary`` less its timings (per-call latency; a local baseline's cost and notes, from CPU seconds) and
    the spec file's location."""

    def strip(value):
        if isinstance(value, dict):
            return {key: strip(inner) for key, inner in value.items() if key not in TIMING_KEYS}
        if isinstance(value, list):
            return [strip(inner) for inner in value]
        return value

    out = strip(summary)
    out["spec"].pop("path")  # each variant's spec sits in its own folder
    if out.get("spec_data"):  # the data file's hash names its bytes (row order included), not a figure; so does
        out["spec_data"].pop("data_sha256")  # the digest of what decides the counts, which holds it
        out["spec_data"].pop("counted_with")
    for result in out["models"].values():
        if result["role"] == "baseline":  # priced by the CPU seconds its predictions took
            for key in ("cost_per_request_usd", "spent_usd", "notes"):
                result.pop(key)
    decision = out.get("decision")
    if decision:  # a baseline arm's cost, and what it decides between two near-free baselines, is timed too
        for arm in decision["arms"]:
            if arm["kind"] == "baseline":
                for key in ("cost_per_request_usd", "monthly_usd", "total_monthly_usd", "dominated"):
                    arm.pop(key, None)
        decision.pop("pareto")
        recommendation = decision["recommendation"]  # its dollar figures may add a baseline's timed cost
        recommendation["text"] = re.sub(r"\$[0-9.,]+", "$", recommendation["text"])
        recommendation["rejected"] = [re.sub(r"\$[0-9.,]+", "$", line) for line in recommendation["rejected"]]
        for arm in decision["arms"]:
            arm["reason"] = re.sub(r"\$[0-9.,]+", "$", arm["reason"] or "")
    return out


def write_task(folder: Path, rows: list[str], *, with_ids: bool) -> Path:
    """The shipped ticket-routing spec over ``rows``; without ids, items get content ids and a hash split."""
    folder.mkdir(parents=True)
    shutil.copy(SHIPPED / "rubric.md", folder / "rubric.md")
    (folder / "data.jsonl").write_text("".join(rows))
    spec = (SHIPPED / "spec.yaml").read_text().replace("../../pricing/", f"{REPO_ROOT}/pricing/")
    if not with_ids:
        spec = spec.replace("  id: id\n", "").replace("split: {column: split}", "split: {eval_fraction: 0.3, seed: 7}")
    (folder / "spec.yaml").write_text(spec)
    return folder / "spec.yaml"


def offline_summary(tmp_path: Path, name: str, rows: list[str], *, with_ids: bool) -> dict:
    spec = write_task(tmp_path / name, rows, with_ids=with_ids)
    runs = tmp_path / name / "runs"
    assert main(["run", "--offline", str(spec), "--runs-dir", str(runs)]) == 0
    [summary] = runs.glob("*/summary.json")
    raw = json.loads(summary.read_text())
    # The per-item rows are compared too: they live in the item store beside summary.json.
    raw.pop("item_store")
    raw["items"] = [item.model_dump() for item in iter_items(read_summary(summary))]
    return raw


def shipped_rows(*, with_ids: bool) -> list[str]:
    rows = (SHIPPED / "data.jsonl").read_text().splitlines(keepends=True)
    if with_ids:
        return rows
    stripped = []
    for line in rows:
        record = json.loads(line)
        del record["id"], record["split"]
        stripped.append(json.dumps(record) + "\n")
    return stripped


@pytest.mark.parametrize(("with_ids", "seeds"), [(False, (1, 2, 3)), (True, (4,))])
def test_permuting_the_data_file_changes_no_reported_figure(tmp_path, with_ids, seeds):
    rows = shipped_rows(with_ids=with_ids)
    original = comparable(offline_summary(tmp_path, "original", rows, with_ids=with_ids))
    assert original["models"]["tfidf_logreg"]["metric"]["value"] > 0.3  # the baselines really trained and scored
    assert original["comparisons"] and original["items"]
    for seed in seeds:
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert shuffled != rows
        permuted = comparable(offline_summary(tmp_path, f"shuffle-{seed}", shuffled, with_ids=with_ids))
        assert permuted == original, f"shuffle {seed} changed a reported figure"


def test_the_comparison_sees_a_changed_row(tmp_path):
    """The check above can fail: dropping one row moves the figures it compares."""
    rows = shipped_rows(with_ids=False)
    original = comparable(offline_summary(tmp_path, "original", rows, with_ids=False))
    fewer = comparable(offline_summary(tmp_path, "fewer", rows[1:], with_ids=False))
    assert fewer != original
