"""Record the whole decision in ``summary.json``: arms, Pareto front, recommendation, evidence needed.

The report computes the decision from a run's figures (``report.recommendation``); this stage
writes the same block into the run's summary after the summary is written, so a service or a
script reads it without rendering a report. A run whose figures cannot be computed (its spec or
pricing table unreadable) keeps no decision block and says why, never a guessed one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from distilleval.errors import DistillevalError

if TYPE_CHECKING:
    from distilleval.results.summary_json import Summary
    from distilleval.spec.data import Item


def record_decision(run_dir: Path, *, say=print, summary: Summary | None = None, items: list[Item] | None = None) -> bool:
    """Add ``decision`` to the run's ``summary.json`` (atomically); False when it could not be computed.

    ``summary`` is the summary just written there (``write_summary``'s result) and ``items`` every item
    of the spec's data file as the run loaded them; without them the files are read again.
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
    decided = inputs.summary.model_copy(update={"decision": block})
    write_summary(decided, run_dir / "summary.json")
    return True
