"""``to_json``: a result's fields in order, render-only fields left out, nested values made plain."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from distilleval.pipeline.stages.result_json import RENDER_ONLY, to_json, to_jsonable
from distilleval.results.summary_json import MetricValue


@dataclasses.dataclass(frozen=True)
class Inner:
    value: float
    note: str = dataclasses.field(default="only for text", metadata=RENDER_ONLY)


class OwnShape:
    def as_dict(self) -> dict[str, object]:
        return {"kind": "own", "path": Path("a/b")}


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    by_role: dict[str, Inner]
    rows: tuple[int, ...]
    own: OwnShape
    where: Path


def test_fields_in_order_render_only_left_out_and_nested_values_plain():
    result = Outer("x", Inner(0.5), {"teacher": Inner(1.0)}, (1, 2), OwnShape(), Path("runs/r"))
    assert to_jsonable(result) == {
        "name": "x", "inner": {"value": 0.5}, "by_role": {"teacher": {"value": 1.0}}, "rows": [1, 2],
        "own": {"kind": "own", "path": "a/b"}, "where": "runs/r",
    }
    assert list(json.loads(to_json(result))) == ["name", "inner", "by_role", "rows", "own", "where"]


def test_an_object_with_its_own_shape_wins_over_its_fields():
    @dataclasses.dataclass(frozen=True)
    class Shaped:
        hidden: int = 1

        def as_dict(self) -> dict[str, int]:
            return {"shown": self.hidden}

    assert to_jsonable(Shaped()) == {"shown": 1}


def test_a_pydantic_model_is_its_dump():
    metric = MetricValue(name="accuracy", value=0.8, ci_low=0.7, ci_high=0.9)
    assert to_jsonable(metric) == metric.model_dump()


def test_to_json_is_indented_like_the_commands_print():
    assert to_json(Inner(0.25)) == '{\n  "value": 0.25\n}'
