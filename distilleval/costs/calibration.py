"""An estimate checked against a finished run: the error measured, and the estimate calibrated by it.

``estimate --from-run RUN`` counts the run's items the way ``estimate`` counts them and pairs
each with the tokens the provider measured for the same item and role. The measured error is
reported as it is; the calibrated figure scales every item's estimated input tokens by the
run's measured-to-estimated ratio and takes the answers' length from the run (a gold label is
a poor guess of what a model writes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from distilleval.costs.estimates import RoleProfile, TokenStats


@dataclass(frozen=True)
class Calibration:
    """One role's estimate against a run's measured tokens, over the items both have.

    Attributes:
        role: teacher or student.
        run: the run folder measured.
        items: items paired (answered in the run with measured tokens, and counted here).
        estimated_input_mean / measured_input_mean: mean input tokens per call over those items.
        estimated_output_mean: mean tokens of the gold answers (None when no item has gold).
        measured_output_mean: mean output tokens the model wrote.
    """

    role: str
    run: str
    items: int
    estimated_input_mean: float
    measured_input_mean: float
    estimated_output_mean: float | None
    measured_output_mean: float

    @property
    def input_error(self) -> float:
        """(estimated − measured) ÷ measured input tokens: negative when the estimate was low."""
        return (self.estimated_input_mean - self.measured_input_mean) / self.measured_input_mean

    @property
    def input_factor(self) -> float:
        """Measured ÷ estimated input tokens: what every estimated count is multiplied by."""
        return self.measured_input_mean / self.estimated_input_mean

    def as_dict(self) -> dict[str, object]:
        """The fields and the two figures derived from them, as ``estimate --format json`` prints them."""
        return {**asdict(self), "input_error": self.input_error, "input_factor": self.input_factor}


def calibrate(
    role: str,
    run: str,
    estimated_inputs: Mapping[str, int],
    estimated_outputs: Mapping[str, int | None],
    measured: Mapping[str, tuple[int, int]],
) -> Calibration | None:
    """Pair the estimate of each item with the run's measured ``(input, output)`` tokens.

    Returns:
        None when no item is in both, or the estimate counted zero input tokens.
    """
    paired = [item for item in measured if item in estimated_inputs]
    estimated_total = sum(estimated_inputs[item] for item in paired)
    if not paired or estimated_total == 0:
        return None
    gold = [tokens for item in paired if (tokens := estimated_outputs.get(item)) is not None]
    return Calibration(
        role, run, len(paired), estimated_total / len(paired),
        sum(measured[item][0] for item in paired) / len(paired),
        sum(gold) / len(gold) if gold else None,
        sum(measured[item][1] for item in paired) / len(paired),
    )


def _scaled(stats: TokenStats, factor: float) -> TokenStats:
    return TokenStats(stats.n, stats.mean * factor, stats.p50 * factor, stats.p95 * factor,
                      round(stats.max * factor), round(stats.total * factor))


def calibrated_profile(profile: RoleProfile, calibration: Calibration) -> RoleProfile:
    """``profile`` with every input count scaled by the run's measured ratio and the run's answer length.

    The output distribution becomes the run's mean answer length on every item (p50, p95 and
    max included: the run's per-item spread of answers is not a property of the items).
    """
    outputs = round(calibration.measured_output_mean * profile.input_tokens.n)
    output_stats = TokenStats(profile.input_tokens.n, calibration.measured_output_mean, calibration.measured_output_mean,
                              calibration.measured_output_mean, round(calibration.measured_output_mean), outputs)
    return dataclasses.replace(
        profile, input_tokens=_scaled(profile.input_tokens, calibration.input_factor), output_tokens=output_stats,
        counted_by=f"{profile.counted_by}, calibrated on {calibration.run}",
    )
