"""The package's layout rules, checked on the source: no import cycles, imports only point
down the layers of ``docs/architecture.md``, and test doubles stay out of production code.

Every ``import`` counts, including those inside functions (deferred for start-up speed, but
still dependencies) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "distilleval"

# Lowest first. A module may import its own folder and any folder of an earlier layer; folders
# that share a layer sit beside each other and may not import each other. Must match
# docs/architecture.md.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "files", "version"),
    ("spec",),
    ("costs",),
    ("backends",),
    ("run",),
    ("results",),
    ("scoring",),
    ("baselines", "training"),
    ("gate",),
    ("report",),
    ("pipeline",),
    ("commands",),
    ("cli",),
]
# Test doubles: they may import production code; production code may never import them.
TESTING = "testing"
# The package face: ``distilleval/__init__.py`` (the library API, loaded lazily) and ``__main__.py`` (runs the CLI).
FACE = {"distilleval", "distilleval.__main__"}


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, known: set[str], package_dir: Path = PACKAGE_DIR) -> set[str]:
    """The ``distilleval`` modules that ``path`` imports (``from pkg import module`` resolves to
    the module; ``from module import name`` to the module)."""
    name = module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t == "distilleval" or t.startswith("distilleval."))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE_DIR.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, known) for p in paths}


def area(module: str) -> str:
    """The first folder (or top-level module) under ``distilleval``: ``spec``, ``errors``, ..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_of(module: str) -> int | None:
    for rank, areas in enumerate(LAYERS):
        if area(module) in areas:
            return rank
    return None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if target == node or target not in graph:
                continue
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        if module in FACE or area(module) == TESTING:
            continue
        rank = layer_of(module)
        for target in sorted(targets):
            if area(target) == TESTING:
                problems.append(f"{module} imports the test double {target}")
            elif target == "distilleval" or area(target) == area(module):
                continue
            elif layer_of(target) is None or rank is None or layer_of(target) >= rank:
                problems.append(f"{module} (layer {rank}) imports {target} (layer {layer_of(target)})")
    return problems


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_imports_point_down_the_layers_and_never_into_testing():
    assert layer_violations(import_graph()) == []


def test_every_folder_and_top_level_module_has_a_layer():
    areas = {area(module) for module in import_graph()} - {"distilleval", "__main__", TESTING}
    assert sorted(a for a in areas if not any(a in layer for layer in LAYERS)) == []


def test_the_layers_match_the_architecture_document():
    """The numbered tree in docs/architecture.md is this file's ``LAYERS``, folder by folder."""
    document = (PACKAGE_DIR.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    numbered = {name: int(rank) for name, rank in re.findall(r"^  (\w+)/\s+(\d+)\s", document, flags=re.MULTILINE)}
    expected = {name: rank for rank, areas in enumerate(LAYERS) if rank > 0 for name in areas}
    assert numbered == expected
    for shared in LAYERS[0]:
        assert f"{shared}.py" in document


# --- the checks themselves must catch what they claim to catch --------------------------------


def test_find_cycle_reports_a_two_module_circle():
    graph = {"distilleval.a": {"distilleval.b"}, "distilleval.b": {"distilleval.a"}, "distilleval.c": set()}
    assert find_cycle(graph) == ["distilleval.a", "distilleval.b", "distilleval.a"]


def test_find_cycle_reports_a_longer_circle():
    graph = {"distilleval.x": {"distilleval.y"}, "distilleval.y": {"distilleval.z"}, "distilleval.z": {"distilleval.x"}}
    assert find_cycle(graph) == ["distilleval.x", "distilleval.y", "distilleval.z", "distilleval.x"]


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"distilleval.spec.data": {"distilleval.scoring.base"}}, "distilleval.spec.data (layer 1) imports distilleval.scoring.base (layer 6)"),
        ({"distilleval.pipeline.plan": {"distilleval.commands.eval"}}, "distilleval.pipeline.plan (layer 10) imports distilleval.commands.eval (layer 11)"),
        ({"distilleval.baselines.base": {"distilleval.training.data"}}, "distilleval.baselines.base (layer 7) imports distilleval.training.data (layer 7)"),
        ({"distilleval.run.runner": {"distilleval.testing.openai_server"}}, "distilleval.run.runner imports the test double distilleval.testing.openai_server"),
    ],
)
def test_layer_violations_are_reported(graph, expected):
    assert layer_violations(graph) == [expected]


def test_imports_inside_functions_and_relative_imports_are_seen(tmp_path):
    package = tmp_path / "distilleval"
    (package / "spec").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "spec" / "__init__.py").write_text("")
    (package / "spec" / "data.py").write_text("def load():\n    from distilleval.testing import fake_tinker\n    from . import prompts\n")
    (package / "spec" / "prompts.py").write_text("")
    known = {"distilleval.spec.data", "distilleval.spec.prompts", "distilleval.testing.fake_tinker"}
    found = imported_modules(package / "spec" / "data.py", known, package)
    assert found == {"distilleval.testing.fake_tinker", "distilleval.spec.prompts"}
