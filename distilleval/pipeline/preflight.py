"""Every check on a spec's inputs that can be made without calling a model.

``eval``, ``run``, ``label`` and ``estimate`` (and ``validate``, for the items it scores) call
these before the first paid call and before anything is written, so a problem in the spec or
the data costs nothing: one line naming the file, the line and the field, exit status 2.
``estimate`` calls the same checks as ``eval``, so it refuses exactly what ``eval`` would refuse.

Where each check lives (each runs as early as the facts it needs are known):

- ``spec.task_spec.load_spec``: the spec itself: unknown keys and types, placeholders, files
  that must exist (data, pool, pricing table, prompt files, a SQLite database that opens),
  labels that are one label under ``scorer.normalize`` and Unicode NFC, aliases of unknown
  labels, the reserved label ``INVALID``.
- ``spec.data.load_items``: one row at a time: inputs present, a ``data.gold`` column that
  exists in the file, gold labels inside ``output.labels``, gold JSON that parses, unique ids,
  split values, images that exist and can be read.
- here: what needs the rows together or the run's choices: an eval split with items, a gold
  answer on every evaluated row in the shape its scorer reads (a JSON object for
  ``json_fields``, well-formed spans for ``spans``), two classes to train the selected
  baselines on, a pool with items to label, and a scorer that can be built (a ``python``
  scorer's function imports).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from distilleval.errors import DataError, SpecError
from distilleval.pipeline.plan import eval_items
from distilleval.spec.data import Item, load_items, split_items
from distilleval.spec.lazy_items import LazyItems, load_items_lazily
from distilleval.spec.scorer_config import JudgeScorer, SpansScorer
from distilleval.spec.task_spec import BaselineSpec, TaskSpec, spec_location


@dataclass(frozen=True)
class EvalInputs:
    """The items of a run whose inputs passed every check.

    Attributes:
        items: every item of the data file, in canonical order (``spec.data.canonical_order``): a list,
            or for a large file ``spec.lazy_items.LazyItems`` (``spec.data.load_items_lazily``).
        evaluate: the eval split in canonical order, cut to the run's limit: what the models answer.
        train: the train split's items that have a gold answer: what baselines are fitted on.
    """

    items: Sequence[Item]
    evaluate: Sequence[Item]
    train: Sequence[Item]


@dataclass(frozen=True)
class LabelInputs:
    """The items the teacher is to label, where they come from (for messages), and the file
    they were read from (its contents are part of a batch run's identity)."""

    items: list[Item]
    source: str
    path: Path


def check_eval_inputs(spec: TaskSpec, *, limit: int | None = None,
                      baselines: Sequence[BaselineSpec] | None = None) -> EvalInputs:
    """Load the data and check everything an eval needs, before any model is called.

    Args:
        spec: the loaded spec.
        limit: only the first ``limit`` eval items are evaluated (and checked for gold).
        baselines: the baselines the run trains (default: all the spec declares).

    Raises:
        SpecError: the spec names no gold column (``data.gold``).
        DataError: a bad row (see ``load_items``), an empty eval split, an evaluated row with
            no gold answer, or fewer than two classes to train the baselines on.
    """
    # A judge without a reference answer grades against its criteria alone: no gold is needed.
    judged_without_reference = isinstance(spec.scorer, JudgeScorer) and spec.scorer.reference is None
    if spec.data.gold is None and not judged_without_reference:
        raise SpecError(
            f"{spec_location(spec, ('data',))}: data.gold: not set, so an eval has no right answers to score "
            f"against; name the column of {spec.data.path} that holds them"
        )
    items = load_items_lazily(spec)
    source = spec.resolve(spec.data.path)
    evaluate = eval_items(items, limit)
    if not evaluate:
        raise DataError(f"{source}: data.split: no items in the eval split ({_split_rule(spec, len(items))})")
    if spec.data.gold is not None:
        _check_gold_present(spec, source, evaluate)
        check_gold_shape(spec, evaluate)
    train: Sequence[Item]
    if isinstance(items, LazyItems):
        train = items.of_split("train").with_gold()
    else:
        train = [item for item in items if item.split == "train" and item.gold is not None]
    chosen = list(spec.baselines if baselines is None else baselines)
    if chosen:
        _check_two_classes(spec, source, train, chosen)
    return EvalInputs(items=items, evaluate=evaluate, train=train)


def check_label_inputs(spec: TaskSpec, *, pool: str | Path | None = None, limit: int | None = None) -> LabelInputs:
    """Load and check the pool the teacher labels: ``pool``, else ``data.pool``, else the train split.

    Raises:
        DataError: a bad row, or no items to label.
    """
    if pool is not None:
        path = Path(pool)
        items, source = load_items(spec, path=path), str(pool)
    elif spec.data.pool:
        path = spec.resolve(spec.data.pool)
        items, source = load_items(spec, path=path), str(path)
    else:
        path = spec.resolve(spec.data.path)
        items = split_items(load_items(spec), "train")
        source = f"{path} (train split)"
    if limit is not None:
        items = items[:limit]
    if not items:
        raise DataError(f"{source}: no items to label")
    return LabelInputs(items=items, source=source, path=path)


def check_scorer(spec: TaskSpec) -> None:
    """Build the spec's scorer once and close it, so a scorer that cannot be built (a python
    scorer whose function does not import, a spans scorer with no input field to locate text
    in) fails before the calls it would score. Worker processes start only on first use, so
    this costs no process.

    Raises:
        DistillevalError: the scorer cannot be built.
    """
    from distilleval.errors import DistillevalError
    from distilleval.scoring import build_scorer

    try:
        with build_scorer(spec):
            pass
    except DistillevalError as err:
        message = str(err)
        if not message.startswith("scorer."):
            raise
        # e.g. "scorer.ref ...: cannot import ...": say which spec and line.
        field = message.split(" ", 1)[0].split(":", 1)[0]
        located = spec_location(spec, tuple(field.split(".")))
        raise type(err)(f"{located}: {message}") from None


def _split_rule(spec: TaskSpec, n_items: int) -> str:
    split = spec.data.split
    if split.column:
        return (f"no row's {split.column!r} is an eval value ({', '.join(split.eval_values)}); "
                f"{n_items} rows in all")
    return f"data.split.eval_fraction {split.eval_fraction:g} with seed {split.seed} put none of {n_items} items there"


def _check_gold_present(spec: TaskSpec, source: Path, evaluate: Sequence[Item]) -> None:
    """Every evaluated item has a gold answer; the first that has none is named."""
    if isinstance(evaluate, LazyItems):  # from the arrays: no item read again
        lines = evaluate.lines_without_gold()
        lacking, first = len(lines), int(lines.min()) if len(lines) else 0
    else:
        without = [item.line for item in evaluate if item.gold is None]
        lacking, first = len(without), min(without, default=0)  # the first in the file, the one a reader looks for
    if lacking:
        raise DataError(
            f"{source}:{first}: column {spec.data.gold!r} (gold): missing or empty in an eval row; every "
            f"evaluated row needs a gold answer ({lacking} of {len(evaluate)} eval rows have none)"
        )


def check_gold_shape(spec: TaskSpec, items: Sequence[Item]) -> None:
    """A JSON task's gold (on ``items`` that have one) has the shape its scorer reads: an object
    for ``json_fields``, spans with a type, start and end for ``spans`` (else scoring stops at
    that item, after the calls were paid).

    Raises:
        DataError: naming the data file, the line and the gold column.
    """
    kind = spec.scorer.kind
    source = spec.resolve(spec.data.path)
    if kind not in ("json_fields", "spans"):
        return
    from distilleval.scoring.spans import spans_of

    first: tuple[int, str] | None = None  # the file's first bad row, the one a reader looks for
    for item in items:  # one pass, no list of them: a large file's items are read again (``LazyItems``)
        if item.gold is None or (first is not None and item.line > first[0]):
            continue
        problem = None
        if kind == "json_fields" and not isinstance(item.gold, dict):
            problem = f"scorer json_fields compares the fields of a JSON object, found {type(item.gold).__name__}"
        elif isinstance(spec.scorer, SpansScorer):
            _, unusable = spans_of(item.gold, spec.scorer.list_field)
            if unusable:
                problem = (f"{unusable} of its spans lack a type, a start or an end "
                           f"(start < end, both whole numbers); scorer spans reads {spec.scorer.list_field!r}")
        if problem is not None:
            first = (item.line, problem)
    if first is not None:
        raise DataError(f"{source}:{first[0]}: column {spec.data.gold!r} (gold): {first[1]}")


def _check_two_classes(spec: TaskSpec, source: Path, train: Sequence[Item], baselines: Sequence[BaselineSpec]) -> None:
    """A classifier needs at least two classes to fit; say which baselines and what was found."""
    classes = Counter(str(item.gold) for item in train)
    if len(classes) >= 2:
        return
    names = ", ".join(b.display_name for b in baselines)
    if classes:
        [(label, count)] = classes.items()
        found = f"only {label!r} ({count} rows)"
    else:
        found = "no row with a gold answer"
    raise DataError(
        f"{spec_location(spec, ('baselines',))}: baselines: {names} need at least two classes in the train split "
        f"of {source}; it has {found}; label more training rows, change data.split, or remove the baselines"
    )

