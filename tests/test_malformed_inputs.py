"""Property test: mutated example specs, pricing tables and prediction files never crash distilleval.

Hypothesis mutates the six example specs (run through ``estimate``), the bundled pricing table
(through ``cost``) and a prediction file of the ticket-routing task (through ``score``):
values replaced by hostile ones (huge, infinite, deeply nested, of the wrong type), keys
deleted, duplicated or misspelt, aliases and anchors added, text cut short, bytes flipped.
Every run must end with exit 0, or exit 2 and one line without a traceback; an alarm stops
any run that would hang, so a hang fails the test instead of the suite.
"""

from __future__ import annotations

import copy
import io
import json
import signal
import tempfile
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilleval.cli.main import main
from distilleval.costs.pricing import DEFAULT_TABLE

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(path.parent for path in (REPO / "specs").glob("*/spec.yaml"))
PRICING = DEFAULT_TABLE
HANG_GUARD_S = 60
"""Not a speed target: far above any run here, only so a hang fails instead of blocking the suite."""

HOSTILE_VALUES = st.sampled_from([
    None, "", "x" * 200_000, 10**40, -(10**40), float("inf"), float("-inf"), float("nan"), -1, 0, True,
    [], {}, [1, [2, [3]]], {"kind": "nope"}, "../../../../etc/passwd", "/dev/zero", "\u202e\u0000", "{text}{nope}",
    "tinker://../../x", "a" * 300, 1e308, 2**63, "SELECT 1; DROP TABLE x",
])
HOSTILE_LINES = st.sampled_from([
    "name: duplicate", "models: {}", "x: &a [*a]", "a: &b [1, 2]\nb: [*b, *b, *b]", "\tname: tab",
    "name: [unclosed", "- a list item", "? complex key\n: value", "!!python/object:os.system {}", "\x00",
    "'unterminated", "nested: " + "[" * 200 + "]" * 200, "days_per_month: .inf", "%YAML 9.9", "---\n---",
])


def _absolute_paths(spec: dict, folder: Path) -> dict:
    """The example spec with every file path absolute, so a copy in a temp folder still finds its files."""
    spec = copy.deepcopy(spec)
    spec["data"]["path"] = str(folder / spec["data"]["path"])
    for role in ("teacher", "student"):
        for part in ("prompt", "system"):
            text = spec[role].get(part)
            if isinstance(text, str) and "\n" not in text and (folder / text).is_file():
                spec[role][part] = str(folder / text)
    if isinstance(spec.get("scorer"), dict) and "database" in spec["scorer"]:
        spec["scorer"]["database"] = str(folder / spec["scorer"]["database"])
    if isinstance(spec.get("scorer"), dict) and spec["scorer"].get("kind") == "judge":
        spec["scorer"]["criteria"] = str(folder / spec["scorer"]["criteria"])
        if spec["scorer"].get("alignment"):
            spec["scorer"]["alignment"]["path"] = str(folder / spec["scorer"]["alignment"]["path"])
    if spec.get("pricing"):
        spec["pricing"] = str((folder / spec["pricing"]).resolve())
    return spec


SPECS = [_absolute_paths(yaml.safe_load((folder / "spec.yaml").read_text()), folder) for folder in EXAMPLES]
TABLE = yaml.safe_load(PRICING.read_text())


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, prefix + (index,))
    return found


@st.composite
def mutated_yaml(draw, documents: list[dict]) -> bytes:
    """A YAML document mutated structurally, then perhaps textually."""
    document = copy.deepcopy(draw(st.sampled_from(documents)))
    paths = _paths(document)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = document
        try:  # an earlier mutation may have removed or replaced part of the path
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "replace", "delete", "misspell"]))
        if action == "replace":
            parent[path[-1]] = copy.deepcopy(draw(HOSTILE_VALUES))  # later steps may mutate it
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[f"{path[-1]}x"] = parent.pop(path[-1])
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return _mutate_text(draw, text.encode())


def _mutate_text(draw, data: bytes) -> bytes:
    action = draw(st.sampled_from(["none", "none", "insert_line", "truncate", "flip_byte", "bom"]))
    if action == "insert_line":
        lines = data.split(b"\n")
        lines.insert(draw(st.integers(0, len(lines))), draw(HOSTILE_LINES).encode())
        return b"\n".join(lines)
    if action == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    if action == "flip_byte" and data:
        position = draw(st.integers(0, len(data) - 1))
        return data[:position] + bytes([draw(st.integers(0, 255))]) + data[position + 1:]
    if action == "bom":
        return b"\xef\xbb\xbf" + data
    return data


def _ticket_routing_predictions() -> list[dict]:
    records = [json.loads(line) for line in (REPO / "specs" / "ticket_routing" / "data.jsonl").read_text().splitlines()]
    return [{"id": r["id"], "output": r["label"]} for r in records if r.get("split") != "train"][:40]


PREDICTIONS = _ticket_routing_predictions()
HOSTILE_RECORDS = st.sampled_from([
    {"id": 1e400}, {"id": None, "output": "x"}, {"output": "x"}, {"id": [1], "output": "x"}, [],
    {"id": "t", "output": {"deep": [[[[[]]]]]}}, {"id": "t", "output": "x" * 100_000}, {"id": "t", "output": 3},
    {"id": "t", "output": "x", "latency_ms": float("inf")}, {"id": "t", "output": "x", "input_tokens": -5},
    {"id": "t", "output": "x", "cost_usd": 1e308}, "not an object", 42,
])


@st.composite
def mutated_predictions(draw) -> bytes:
    records: list[Any] = copy.deepcopy(PREDICTIONS)
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(0, len(records) - 1))
        action = draw(st.sampled_from(["replace", "duplicate", "delete"]))
        if action == "replace":
            hostile = copy.deepcopy(draw(HOSTILE_RECORDS))
            if isinstance(hostile, dict) and hostile.get("id") == "t":
                hostile["id"] = PREDICTIONS[index]["id"]
            records[index] = hostile
        elif action == "duplicate":
            records.insert(index, records[index])
        elif len(records) > 1:
            del records[index]
    text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in records)
    extra = draw(st.sampled_from(["", "", "[" * 100_000 + "]" * 100_000, "\x00", "{", "\ud800"]))
    data = text.encode() + extra.encode("utf-8", "surrogatepass")
    return _mutate_text(draw, data)


@contextmanager
def _hang_guard():
    def stop(*_: Any) -> None:
        raise TimeoutError(f"a run took over {HANG_GUARD_S} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(HANG_GUARD_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _run(argv: list[str], *, checks: bool = False) -> None:
    """Run the CLI in this process; it must exit 0, or exit 2 with one line and no traceback
    (``checks``: exit 1 too, a command's own check that failed, e.g. too many missing predictions)."""
    stderr, stdout = io.StringIO(), io.StringIO()
    with _hang_guard(), redirect_stderr(stderr), redirect_stdout(stdout):
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse
            status = stop.code
    err = stderr.getvalue()
    assert status in ((0, 1, 2) if checks else (0, 2)), f"exit {status}: {err[-2000:]}"
    assert "Traceback" not in err, err[-2000:]
    if status == 2:
        assert err.count("\n") == 1, err[-2000:]


def _settings(examples: int) -> settings:
    # derandomize: the same examples on every machine, so a failure in CI reproduces here.
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@_settings(40)
@given(mutated_yaml(SPECS))
def test_mutated_specs_end_in_exit_0_or_one_line_exit_2(spec_bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_bytes(spec_bytes)
        _run(["estimate", str(path)])


@_settings(25)
@given(mutated_yaml([TABLE]))
def test_mutated_pricing_tables_end_in_exit_0_or_one_line_exit_2(table_bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prices.yaml"
        path.write_bytes(table_bytes)
        _run(["cost", "--pricing", str(path), "--model", "openai/gpt-5.2", "--tokens-in", "100", "--tokens-out", "5"])


@_settings(20)
@given(mutated_predictions())
def test_mutated_prediction_files_end_in_exit_0_or_one_line_exit_2(prediction_bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.jsonl"
        path.write_bytes(prediction_bytes)
        _run(["score", str(REPO / "specs" / "ticket_routing" / "spec.yaml"), "--predictions", str(path),
              "--out", str(Path(folder) / "out" / "summary.json"), "--resamples", "100"], checks=True)


@pytest.mark.parametrize("folder", EXAMPLES, ids=[folder.name for folder in EXAMPLES])
def test_unmutated_specs_with_absolute_paths_load(folder):
    # The mutations start from these; if they did not load, every mutation would test nothing.
    spec = _absolute_paths(yaml.safe_load((folder / "spec.yaml").read_text()), folder)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
        stderr, stdout = io.StringIO(), io.StringIO()
        with redirect_stderr(stderr), redirect_stdout(stdout):
            assert main(["estimate", str(path)]) == 0, stderr.getvalue()
