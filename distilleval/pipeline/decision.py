"""Record the whole decision in ``summary.json``: arms, Pareto front, recommendation, evidence needed.

The report computes the decision from a run's figures (``report.recommendation``); this stage
writes the same block into the run's summary after the summary is written, so a service or a
script reads it without rendering a report. A run whose figures cannot be computed (its spec or
pricing table unreadable) keeps no decision block and says why, never a guessed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
        source = _DataSource.of(inputs, run_dir)
        figures = compute_figures(inputs, items=items, counts=source.earlier)
        block = decision_block(recommend(figures), figures)
    except DistillevalError as err:
        say(f"decision   not recorded in summary.json: {err}")
        return False
    update: dict[str, object] = {"decision": block}
    counted = source.to_record(figures.data_counted or source.earlier, inputs.spec)
    if counted is not None:
        update["spec_data"] = counted
    decided = inputs.summary.model_copy(update=update)
    write_summary(decided, run_dir / "summary.json")
    return True


@dataclass(frozen=True)
class _DataSource:
    """The data file's sha256, the digest of what decides its counts, and an earlier run's counts under it.

    A run over the same data, spec prompts, counters and limits as an earlier run in the same runs
    folder reuses that run's counts (``report.data_counts.earlier_counts``): counting every item is the
    largest part of a large cached re-run's last seconds.
    """

    data_sha256: str | None
    key: str | None
    earlier: SpecDataCounts | None

    @classmethod
    def of(cls, inputs, run_dir: Path) -> _DataSource:
        """The source of ``inputs``'s spec and data; nothing known when the spec or data cannot be read."""
        from distilleval.report.data_counts import counts_key, data_file_sha256, earlier_counts, eval_limits

        spec = inputs.spec
        data_sha = data_file_sha256(spec) if spec is not None else None
        if spec is None or data_sha is None:
            return cls(data_sha, None, None)
        try:
            key = counts_key(spec, eval_limits(inputs.summary), data_sha)
        except DistillevalError:  # a counter that cannot be made: the figures count (and note why) as before
            return cls(data_sha, None, None)
        return cls(data_sha, key, earlier_counts(run_dir.parent, key) if key is not None else None)

    def to_record(self, counted: SpecDataCounts | None, spec) -> SpecDataCounts | None:
        """The data's counts named by the spec and data file they came from (None when none were made or
        the data file cannot be read to hash it)."""
        if counted is None or spec is None or self.data_sha256 is None:
            return None
        return counted.model_copy(update={"spec_sha256": spec.source_sha256, "data_sha256": self.data_sha256,
                                          "counted_with": self.key or ""})


def _counts_to_record(figures, spec) -> SpecDataCounts | None:
    """The data's counts the figures just made, named by the spec and data file they came from
    (None when none were made or the data file cannot be read to hash it)."""
    from distilleval.report.data_counts import data_file_sha256

    data_sha = data_file_sha256(spec) if spec is not None else None
    return _DataSource(data_sha, None, None).to_record(figures.data_counted, spec)
