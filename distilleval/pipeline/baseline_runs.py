"""Train the spec's local baselines and predict the eval items, as ``ModelRun``s for the summary."""

from __future__ import annotations

from distilleval.costs.pricing import PricingTable
from distilleval.spec.data import Item
from distilleval.spec.task_spec import TaskSpec


def baseline_runs(
    spec: TaskSpec,
    train: list[Item],
    evaluate: list[Item],
    pricing: PricingTable,
    *,
    baselines: list | None = None,
    labels: list[str] | None = None,
    say=print,
) -> list:
    """Train spec baselines (default: all) on ``train``, predict ``evaluate``; one ``ModelRun`` each.

    Args:
        labels: one training label per item of ``train`` (e.g. the teacher's); default: gold.
    """
    from distilleval.baselines import train_baseline
    from distilleval.results.build import ModelOutput, ModelRun

    runs = []
    for baseline in spec.baselines if baselines is None else baselines:
        trained = train_baseline(baseline, train, labels)
        price = pricing.price_for(baseline.price_as)
        predictions = trained.predict_items(evaluate, cpu_usd_per_hour=price.cpu_usd_per_hour or 0.0)
        say(f"  {baseline.display_name}: trained on {len(train)} items in {trained.train_seconds:.2f} s, predicted {len(evaluate)}")
        outputs = [ModelOutput(**vars(p)) for p in predictions]
        runs.append(
            ModelRun(
                name=baseline.display_name,
                role="baseline",
                model=baseline.kind,
                outputs=outputs,
                display_name=baseline.display_name,
                cost_per_request_usd=sum(o.cost_usd for o in outputs) / len(outputs) if outputs else None,
                cost_basis="measured",
                notes=[f"trained in-process on {len(train)} items in {trained.train_seconds:.2f} s; cost = CPU time x {price.display_name} rate"],
            )
        )
        # Dropped before the next baseline trains: the TF-IDF model's weights are 60 MB at 77 classes.
        del trained, predictions, outputs
    return runs
