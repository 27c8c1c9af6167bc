"""The offline ``distilleval run``: nothing touches the network.

The gold labels stand in for the teacher's labels ("reference labels"), local baselines are
trained and evaluated for real, and the teacher's and student's costs are projected from
token counts measured on the spec's real prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from distilleval.costs.pricing import PricingTable
from distilleval.pipeline.baseline_runs import baseline_runs
from distilleval.pipeline.plan import RunPlan, eval_items
from distilleval.spec.data import Item, load_items, split_items
from distilleval.spec.task_spec import TaskSpec


def run_offline(spec: TaskSpec, pricing: PricingTable, plan: RunPlan, *, limit: int | None,
                items: Sequence[Item] | None = None, say=print) -> Path:
    """The offline pipeline; returns the path of the summary it wrote.

    Args:
        items: the spec's items as ``load_items`` returns them, when the caller has loaded them
            already (default: loaded here); a second copy of 150,000 items costs 90 MB.
    """
    from distilleval.pipeline.evaluate import write_run_files
    from distilleval.results.build import build_summary
    from distilleval.results.projection import projected_model_result
    from distilleval.results.summary_json import write_summary
    from distilleval.scoring import build_scorer

    items = load_items(spec) if items is None else list(items)
    train, evaluate = split_items(items, "train"), list(eval_items(items, limit))
    labelled = [item for item in train if item.gold is not None]
    say(f"label     reference labels: {len(labelled)} gold answers of the train split stand in for the teacher's labels")
    say("validate  skipped: reference labels are the gold itself")
    say(f"train     skipped: the student ({spec.student.model}) is not trained offline; its cost is projected")
    say(f"eval      {len(evaluate)} eval items")
    runs = baseline_runs(spec, labelled, evaluate, pricing, say=say) if spec.baselines else []
    if not spec.baselines:
        why = f"output kind {spec.output.kind!r}" if spec.output.kind != "label" else "no baselines declared, or image inputs"
        say(f"  no local baselines for this task ({why}); nothing is scored offline")
    # Priced on every item of the data file, as `estimate` and `cost SPEC` price the spec: one figure everywhere.
    projected = {role: projected_model_result(spec, role, items, pricing) for role in spec.models()}
    with build_scorer(spec) as scorer:
        summary = build_summary(
            spec,
            evaluate,
            runs,
            pricing=pricing,
            run_id=plan.run_dir.name,
            scorer=scorer,
            mode="offline",
            label_source="reference",
            projected=projected,
            notes=[
                f"offline run ({plan.reason}): gold labels stood in for the teacher's labels (reference labels); "
                "teacher and student were not called, so their cost is projected from token counts measured on "
                "the spec's rendered prompts and they have no accuracy in this run",
            ],
        )
    write_run_files(spec, pricing, plan.run_dir)
    path = plan.run_dir / "summary.json"
    written = write_summary(summary, path)
    from distilleval.pipeline.decision import record_decision

    record_decision(plan.run_dir, say=say, summary=written, items=items)
    return path
