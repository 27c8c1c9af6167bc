"""Record the whole decision in ``summary.json``: arms, Pareto front, recommendation, evidence needed.

The report computes the decision from a run's figures (``report.recommendation``); this stage
writes the same block into the run's summary after the summary is written, so a service or a
script reads it without rendering a report. A run whose figures cannot be computed (its spec or
pricing table unreadable) keeps no decision block and says why, never a guessed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from distilleval.errors import DistillevalError

if TYPE_CHECKING:
    from distilleval.results.summary_json import SpecDataCounts, Summary
    from distilleval.spec.data import Item


def record_decision(run_dir: Path, *, say=print, summary: Summary | None = None, items: Sequence[Item] | None = None) -> bool:
    """Add ``decision`` to the run's ``summary.json`` (atomically); False when it could not be computed.

    ``summary`` is the summary just written there (``write_summary``'s result) and ``items`` every item
    of the spec's data file as the run loaded them; without them the files are read again. The token
    counts the figures made from the data are recorded beside the decision (``spec_data``), so a
    later report need not read and count the data file again (``report.data_counts``).
    """
    from distilleval.report.figures import compute_figures
    from distilleval.report.recommendation import decision_block, recommend
    from distilleval.report.sources import load_run
    from distilleval.results.summary_json import write_summary

    try:
        inputs = load_run(run_dir, require_spec=True, require_pricing=True, summary=summary)
        figures = compute_figures(inputs, items=items)
        block = decision_block(recommend(figures), figures)
    except DistillevalError as err:
        say(f"decision   not recorded in summary.json: {err}")
        return False
    update: dict[str, object] = {"decision": block}
    counted = _counts_to_record(figures, inputs.spec)
    if counted is not None:
        update["spec_data"] = counted
    decided = inputs.summary.model_copy(update=update)
    write_summary(decided, run_dir / "summary.json")
    return True


def _counts_to_record(figures, spec) -> SpecDataCounts | None:
    """The data's counts the figures just made, named by the spec and data file they came from
    (None when none were made or the data file cannot be read to hash it)."""
    from distilleval.report.data_counts import data_file_sha256

    counted = figures.data_counted
    if counted is None or spec is None:
        return None
    data_sha = data_file_sha256(spec)
    if data_sha is None:
        return None
    return counted.model_copy(update={"spec_sha256": spec.source_sha256, "data_sha256": data_sha})
