"""The package face: ``distilleval.__all__`` is pinned, every name is importable and documented,
each result is a frozen dataclass, and ``import distilleval`` stays light."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import distilleval

EXPORTED = {
    "load_spec", "TaskSpec", "DistillevalError", "to_json",
    "estimate", "EstimateResult",
    "label", "LabelResult",
    "validate", "ValidateResult",
    "train", "TrainResult",
    "evaluate", "EvalResult",
    "render_report", "ReportResult",
    "check_gates", "GateResult",
}
RESULTS = ["EstimateResult", "LabelResult", "ValidateResult", "TrainResult", "EvalResult", "ReportResult", "GateResult"]
HEAVY = ("litellm", "tinker", "sklearn", "scipy")


def test_the_exported_names_are_pinned():
    assert set(distilleval.__all__) == EXPORTED
    assert len(distilleval.__all__) == len(EXPORTED)


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_each_name_is_importable_and_documented(name):
    value = getattr(distilleval, name)
    namespace: dict[str, object] = {}
    exec(f"from distilleval import {name}", namespace)
    assert namespace[name] is value
    assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    assert name in dir(distilleval)


@pytest.mark.parametrize("name", RESULTS)
def test_each_result_is_a_frozen_dataclass(name):
    result = getattr(distilleval, name)
    assert dataclasses.is_dataclass(result) and result.__dataclass_params__.frozen


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'estimat'"):
        distilleval.estimat  # noqa: B018 - the lookup is the test


def test_the_report_and_gate_subpackages_do_not_shadow_their_stages():
    """A package attribute named like a subpackage is replaced when the subpackage is imported: hence the names."""
    import distilleval.gate.checks
    import distilleval.report.render  # noqa: F401 - importing is the test

    assert callable(distilleval.render_report) and callable(distilleval.check_gates)


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return eval(out)


def test_import_distilleval_loads_no_heavy_library():
    assert _loaded_after("import distilleval") == []


def test_reaching_a_stage_function_loads_no_heavy_library():
    assert _loaded_after("import distilleval; distilleval.estimate; distilleval.EvalResult; distilleval.train") == []


def test_the_probe_sees_a_heavy_import():
    """The subprocess probe can fail: importing scikit-learn shows up in it."""
    assert "sklearn" in _loaded_after("import distilleval, sklearn")
