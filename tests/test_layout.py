"""The package's layout rules, checked on the source: no import cycles, imports only point
down the layers of ``docs/architecture.md``, and test doubles stay out of production code.

The layer and test-double rules are import-linter contracts in ``pyproject.toml``
(``[tool.importlinter]``; ``lint-imports`` runs them from the command line too). The import graph
is grimp's (import-linter's), which counts every ``import``, including those inside functions
(deferred for start-up speed, but still dependencies) and under ``TYPE_CHECKING``.
import-linter has no contract for a circle between two modules, so that check is here, on the
same graph.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
CONTRACTS = {c["id"]: c for c in tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]}
# Lowest first, as docs/architecture.md numbers them: folders that share a layer sit beside each
# other and may not import each other.
LAYERS: list[tuple[str, ...]] = [tuple(layer.split(" | ")) for layer in reversed(CONTRACTS["layers"]["layers"])]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("distilleval", cache_dir=None)


def find_cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    for module in sorted(graph.modules):
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=target, imported=module)
            if back:
                return [module, *back]
    return None


def broken_contracts(graph: grimp.ImportGraph) -> list[str]:
    """The ids of the ``pyproject.toml`` contracts that ``graph`` breaks."""
    kinds = {"layers": LayersContract, "forbidden": ForbiddenContract}
    broken = []
    for contract_id, options in CONTRACTS.items():
        # As import-linter's own TOML reader does: its options are strings, lists of strings.
        contract_options = {key: str(value) if isinstance(value, bool) else value
                            for key, value in options.items() if key not in ("id", "name", "type")}
        contract = kinds[options["type"]](name=options["name"], session_options={"root_packages": ["distilleval"]},
                                          contract_options=contract_options)
        if not contract.check(copy.deepcopy(graph), verbose=False).kept:
            broken.append(contract_id)
    return broken


def test_the_package_has_no_import_cycle(graph):
    assert find_cycle(graph) is None


def test_the_import_contracts_are_kept(capsys):
    """Imports point down the layers, every folder has a layer, nothing imports ``testing``."""
    exit_code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    assert exit_code == 0, capsys.readouterr().out


def test_the_layers_match_the_architecture_document():
    """The numbered tree in docs/architecture.md is the layers contract, folder by folder."""
    document = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    numbered = {name: int(rank) for name, rank in re.findall(r"^  (\w+)/\s+(\d+)\s", document, flags=re.MULTILINE)}
    expected = {name: rank for rank, areas in enumerate(LAYERS) if rank > 0 for name in areas}
    assert numbered == expected
    for shared in LAYERS[0]:
        assert f"{shared}.py" in document


# --- the checks themselves must catch what they claim to catch --------------------------------


def _graph_of(imports: dict[str, set[str]]) -> grimp.ImportGraph:
    made = grimp.ImportGraph()
    for importer, targets in imports.items():
        made.add_module(importer)
        for target in targets:
            made.add_module(target)
            made.add_import(importer=importer, imported=target)
    return made


def test_find_cycle_reports_a_two_module_circle():
    made = _graph_of({"distilleval.a": {"distilleval.b"}, "distilleval.b": {"distilleval.a"}, "distilleval.c": set()})
    assert find_cycle(made) == ["distilleval.a", "distilleval.b", "distilleval.a"]


def test_find_cycle_reports_a_longer_circle():
    made = _graph_of({"distilleval.x": {"distilleval.y"}, "distilleval.y": {"distilleval.z"}, "distilleval.z": {"distilleval.x"}})
    assert find_cycle(made) == ["distilleval.x", "distilleval.y", "distilleval.z", "distilleval.x"]


@pytest.mark.parametrize(
    "importer, imported, broken",
    [
        ("distilleval.spec.data", "distilleval.scoring.base", ["layers"]),  # climbs from layer 1 to 6
        ("distilleval.pipeline.plan", "distilleval.commands.eval", ["layers"]),  # 10 -> 11
        ("distilleval.baselines.base", "distilleval.training.data", ["layers"]),  # side by side in layer 7
        ("distilleval.run.runner", "distilleval.testing.openai_server", ["testing"]),
        ("distilleval.commands.eval", "distilleval.spec.data", []),  # down the layers: allowed
    ],
)
def test_a_forbidden_import_breaks_its_contract(graph, importer, imported, broken):
    changed = copy.deepcopy(graph)
    for module in (importer, imported):
        changed.add_module(module)
    changed.add_import(importer=importer, imported=imported)
    assert broken_contracts(changed) == broken


def test_a_folder_with_no_layer_breaks_the_layers_contract(graph):
    changed = copy.deepcopy(graph)
    changed.add_module("distilleval.newfolder")
    assert broken_contracts(changed) == ["layers"]


def test_imports_inside_functions_relative_and_type_checking_imports_are_seen(tmp_path, monkeypatch):
    package = tmp_path / "layoutprobe"
    (package / "spec").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "spec" / "__init__.py").write_text("")
    (package / "spec" / "data.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from layoutprobe.spec import labels\n"
        "def load():\n    from layoutprobe.testing import fake_tinker\n    from . import prompts\n")
    for name in ("prompts", "labels"):
        (package / "spec" / f"{name}.py").write_text("")
    (package / "testing").mkdir()
    (package / "testing" / "__init__.py").write_text("")
    (package / "testing" / "fake_tinker.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = grimp.build_graph("layoutprobe", cache_dir=None).find_modules_directly_imported_by("layoutprobe.spec.data")
    assert found == {"layoutprobe.testing.fake_tinker", "layoutprobe.spec.prompts", "layoutprobe.spec.labels"}
