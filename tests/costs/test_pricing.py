"""Pricing tables: the bundled table, lookups, and every broken table failing clearly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from distilleval.cli.main import main
from distilleval.costs.pricing import DEFAULT_TABLE, load_pricing, resolve_pricing
from distilleval.errors import PricingError

SEED = {
    "anthropic/claude-opus-4-6": (5.00, 25.00),
    "openai/gpt-5.2": (1.75, 14.00),
    "openai/gpt-4.1-mini": (0.40, 1.60),
    "gemini/gemini-2.5-flash": (0.30, 2.50),
    "tinker/lora": (0.10, 0.10),
}


def test_bundled_table_has_the_seed_figures_with_sources():
    table = load_pricing()
    for model, (p_in, p_out) in SEED.items():
        entry = table.price_for(model)
        assert (entry.input_per_mtok_usd, entry.output_per_mtok_usd) == (p_in, p_out)
        assert entry.source and entry.as_of.isoformat() == "2026-02-01"
    assert table.label.startswith("2026-02.yaml (as of 2026-02-01, sha256 ")


def test_cache_write_rate_is_a_sourced_price():
    opus = load_pricing().price_for("anthropic/claude-opus-4-6")
    assert opus.cache_write_per_mtok_usd == 6.25 and "cache write 1.25x" in opus.source
    assert load_pricing().price_for("openai/gpt-5.2").cache_write_per_mtok_usd is None


def test_lookup_by_alias_and_pattern():
    table = load_pricing()
    assert table.price_for("claude-opus-4-6").display_name == "Claude Opus 4.6"
    assert table.price_for("tinker://run-7/sampler_weights/final").display_name == "Tinker LoRA (seed figure)"


def test_missing_model_is_an_error_naming_model_and_table():
    with pytest.raises(PricingError) as caught:
        load_pricing().price_for("mistral/large-3")
    message = str(caught.value)
    assert "'mistral/large-3'" in message and str(DEFAULT_TABLE) in message


def _valid_table() -> dict:
    return yaml.safe_load(DEFAULT_TABLE.read_text())


def _cost_with(tmp_path: Path, table, capsys, model="openai/gpt-5.2") -> tuple[int, str, Path]:
    path = tmp_path / "prices.yaml"
    path.write_text(table if isinstance(table, str) else yaml.safe_dump(table, sort_keys=False))
    status = main(["cost", "--pricing", str(path), "--model", model, "--tokens-in", "10", "--tokens-out", "1"])
    return status, capsys.readouterr().err, path


def _mutated(path: tuple, value=None, delete=False):
    table = _valid_table()
    target = table
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return table


BROKEN_TABLES = [
    ("empty file", "", "the file is empty"),
    ("not yaml", "models: {a: [1, 2}\n", "not valid YAML"),
    ("a list", "- 1\n- 2\n", "expected a mapping"),
    ("negative price", _mutated(("models", "openai/gpt-5.2", "input"), -1.75), "models.openai/gpt-5.2.input: input should be greater than or equal to 0"),
    ("price as text", _mutated(("models", "openai/gpt-5.2", "output"), "cheap"), "models.openai/gpt-5.2.output: input should be a valid number"),
    ("missing source", _mutated(("models", "openai/gpt-5.2", "source"), delete=True), "models.openai/gpt-5.2.source: required field is missing"),
    ("missing as_of", _mutated(("as_of",), delete=True), "as_of: required field is missing"),
    ("bad date", _mutated(("models", "openai/gpt-5.2", "as_of"), "last spring"), "models.openai/gpt-5.2.as_of: input should be a valid date"),
    ("unknown key", _mutated(("models", "openai/gpt-5.2", "inputt"), 1.0), "models.openai/gpt-5.2.inputt: unknown key"),
    ("other currency", _mutated(("currency",), "EUR"), "currency: string should match pattern"),
    ("discount and batch prices", _mutated(("models", "openai/gpt-5.2", "batch_input"), 0.8), "give either batch_input/batch_output or batch_discount, not both"),
    ("infinite price", _mutated(("models", "openai/gpt-5.2", "input"), float("inf")), "models.openai/gpt-5.2.input: input should be a finite number"),
    ("nan price", _mutated(("models", "openai/gpt-5.2", "output"), float("nan")), "models.openai/gpt-5.2.output: input should be a finite number"),
    ("absurd price", _mutated(("models", "openai/gpt-5.2", "input"), 1e300), "models.openai/gpt-5.2.input: input should be less than or equal to 100000"),
    ("deep nesting", "as_of: 2026-02-01\nmodels: " + "[" * 1000 + "]" * 1000 + "\n", "nested more than 64 levels deep"),
]


@pytest.mark.parametrize(("name", "table", "expected"), BROKEN_TABLES, ids=[case[0] for case in BROKEN_TABLES])
def test_broken_pricing_table(tmp_path, capsys, name, table, expected):
    status, err, path = _cost_with(tmp_path, table, capsys)
    assert status == 2
    assert err.count("\n") == 1, err
    assert str(path) in err and expected in err


def test_unknown_model_in_a_user_table_is_exit_2(tmp_path, capsys):
    status, err, path = _cost_with(tmp_path, _valid_table(), capsys, model="mistral/large-3")
    assert status == 2
    assert "'mistral/large-3' has no price in" in err and str(path) in err


def test_error_line_points_at_the_bad_price(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump(_mutated(("models", "openai/gpt-5.2", "input"), -1.75), sort_keys=False))
    lines = path.read_text().splitlines()
    in_gpt = lines.index("  openai/gpt-5.2:")
    bad_line = next(n for n in range(in_gpt, len(lines)) if lines[n].strip().startswith("input:")) + 1
    with pytest.raises(PricingError, match=rf"prices.yaml:{bad_line}: "):
        load_pricing(path)


def test_a_second_models_key_is_an_error_not_a_replacement(tmp_path, capsys):
    # YAML alone would let the second `models:` replace the first, silently repricing every model.
    text = yaml.safe_dump(_valid_table(), sort_keys=False) + "models:\n  x/y: {display_name: y, input: 0, output: 0, source: s, as_of: 2026-01-01}\n"
    status, err, path = _cost_with(tmp_path, text, capsys)
    first = next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith("models:"))
    assert status == 2 and err.count("\n") == 1
    assert f"models: duplicate key (first on line {first})" in err


def test_an_installed_wheel_finds_the_bundled_table(tmp_path):
    # A wheel holds only the package: the bundled table must be package data, not a repository file.
    import shutil
    import subprocess
    import sys
    import zipfile

    from tests.conftest import REPO_ROOT

    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "distilleval", source / "distilleval", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("distilleval-*.whl")
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    probe = "from distilleval.costs.pricing import load_pricing; t = load_pricing(); print(t.path, t.label)"
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
    )
    assert found.returncode == 0, found.stderr
    path, label = found.stdout.split(" ", 1)
    assert path.startswith(str(installed)) and label.startswith("2026-02.yaml (as of 2026-02-01, sha256 ")


def _deferring_table(tmp_path: Path, defer_to="bundled", name="imported.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({
        "as_of": "2026-12-01",
        "defer_to": defer_to,
        "models": {
            # The bundled table prices GPT-5.2 at $1.75 / $14: that must win.
            "openai/gpt-5.2": {"display_name": "gpt-5.2", "input": 9.0, "output": 99.0, "source": "map", "as_of": "2026-12-01"},
            "anthropic/claude-sonnet-4-5": {"display_name": "claude-sonnet-4-5", "input": 3.0, "output": 15.0,
                                            "aliases": ["claude-sonnet-4-5"], "source": "map", "as_of": "2026-12-01"},
        },
    }, sort_keys=False))
    return path


def test_the_bundled_table_wins_over_a_table_that_defers_to_it(tmp_path):
    table = load_pricing(_deferring_table(tmp_path))
    assert table.price_for("openai/gpt-5.2").input_per_mtok_usd == 1.75
    assert table.price_for("claude-sonnet-4-5").input_per_mtok_usd == 3.0
    owner, key, _ = table.locate("openai/gpt-5.2")
    assert owner.path == DEFAULT_TABLE and key == "openai/gpt-5.2"
    owner, key, _ = table.locate("claude-sonnet-4-5")
    assert owner is table and key == "anthropic/claude-sonnet-4-5"
    assert table.label.startswith("2026-02.yaml (as of 2026-02-01, sha256 ") and ", then imported.yaml (as of 2026-12-01" in table.label


def test_a_missing_model_names_every_table_consulted(tmp_path):
    path = _deferring_table(tmp_path)
    with pytest.raises(PricingError) as caught:
        load_pricing(path).price_for("mistral/large-3")
    assert f"{DEFAULT_TABLE} or {path}" in str(caught.value)


def test_tables_deferring_in_a_loop_are_an_error(tmp_path):
    _deferring_table(tmp_path, defer_to="b.yaml", name="a.yaml")
    _deferring_table(tmp_path, defer_to="a.yaml", name="b.yaml")
    # b.yaml closes the loop: its line is the one named.
    with pytest.raises(PricingError, match=r"b.yaml:2: defer_to: 'a.yaml' makes a loop"):
        load_pricing(tmp_path / "a.yaml")


def test_stale_prices_are_those_read_before_the_age_limit():
    from distilleval.costs.pricing import stale_prices

    table = load_pricing()
    models = ["openai/gpt-5.2", "openai/gpt-5.2", "nowhere/model"]
    # The bundled prices are as of 2026-02-01: 180 days later they are not yet stale, 181 days later they are.
    assert stale_prices(table, models, today=dt.date(2026, 7, 31), max_age_days=180) == []
    assert stale_prices(table, models, today=dt.date(2026, 8, 1), max_age_days=180) == [("openai/gpt-5.2", dt.date(2026, 2, 1))]


def _student(tiny_spec_path, **update):
    from distilleval.spec.task_spec import load_spec

    return load_spec(tiny_spec_path).student.model_copy(update=update)


def test_a_tinker_checkpoint_is_priced_at_its_base_models_row(tiny_spec_path):
    from distilleval.costs.pricing import checkpoint_price_note, priced_as

    table = load_pricing()
    student = _student(tiny_spec_path)
    # The loader records training.base_model (the default Qwen/Qwen3-8B) for a tinker:// student.
    assert student.checkpoint_base_model == "Qwen/Qwen3-8B"
    assert table.key_for(student) == priced_as(student, table) == "Qwen/Qwen3-8B"
    base = table.price_for("Qwen/Qwen3-8B")
    assert (base.input_per_mtok_usd, base.output_per_mtok_usd) != (0.10, 0.10)
    assert checkpoint_price_note(student.model, "Qwen/Qwen3-8B", table) == (
        "tinker://tiny/sampler_weights/final is priced at its base model's row, Qwen3-8B on Tinker "
        "(Qwen/Qwen3-8B: Tinker's prefill and sample rates); set student.price_as: tinker/seed for the seed's flat figure"
    )


def test_price_as_keeps_the_seed_row_reachable(tiny_spec_path):
    from distilleval.costs.pricing import checkpoint_price_note, priced_as

    table = load_pricing()
    student = _student(tiny_spec_path, price_as="tinker/seed")
    assert table.key_for(student) == "tinker/seed"
    assert table.price_for("tinker/seed").display_name == "Tinker LoRA (seed figure)"
    assert checkpoint_price_note(student.model, priced_as(student, table), table) is None


def test_a_base_model_the_table_does_not_price_falls_back_to_the_checkpoint_id(tiny_spec_path):
    from distilleval.costs.pricing import priced_as

    student = _student(tiny_spec_path, checkpoint_base_model="Qwen/Qwen3-30B-A3B-Base")
    table = load_pricing()
    assert table.key_for(student) == student.model and priced_as(student, table) is None
    assert table.price_for(table.key_for(student)).display_name == "Tinker LoRA (seed figure)"


class _PricedSpec:
    """The two things ``resolve_pricing`` reads of a spec: its ``pricing:`` entry and its folder."""

    def __init__(self, folder: Path, pricing: str | None):
        self.folder, self.pricing = folder, pricing

    def resolve(self, path: str) -> Path:
        return self.folder / path


def test_resolve_pricing_prefers_the_override_then_the_spec_s_file_then_the_bundled_table(tmp_path):
    spec_table = tmp_path / "spec_prices.yaml"
    spec_table.write_text(DEFAULT_TABLE.read_text())
    override = tmp_path / "override.yaml"
    override.write_text(DEFAULT_TABLE.read_text().replace("as_of:", "# override\nas_of:", 1))

    assert resolve_pricing(_PricedSpec(tmp_path, "spec_prices.yaml"), override).path == override
    assert resolve_pricing(_PricedSpec(tmp_path, "spec_prices.yaml"), None).path == spec_table
    assert resolve_pricing(_PricedSpec(tmp_path, None), str(override)).path == override
    assert resolve_pricing(_PricedSpec(tmp_path, None)).path == DEFAULT_TABLE
