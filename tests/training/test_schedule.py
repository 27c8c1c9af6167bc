"""Linear-decay learning rate."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distilleval.training.schedule import linear_decay_lr


def test_starts_at_base_and_decays_linearly():
    rates = [linear_decay_lr(1e-4, step, 4) for step in range(4)]
    assert rates == pytest.approx([1e-4, 7.5e-5, 5e-5, 2.5e-5])


def test_single_step_uses_the_full_rate():
    assert linear_decay_lr(3e-4, 0, 1) == 3e-4


@given(st.integers(min_value=2, max_value=10_000), st.data())
def test_strictly_decreasing_and_positive(total, data):
    step = data.draw(st.integers(min_value=0, max_value=total - 2))
    now, later = linear_decay_lr(1e-4, step, total), linear_decay_lr(1e-4, step + 1, total)
    assert 0 < later < now <= 1e-4


@pytest.mark.parametrize("step, total", [(4, 4), (-1, 4), (0, 0)])
def test_out_of_range_is_rejected(step, total):
    with pytest.raises(ValueError):
        linear_decay_lr(1e-4, step, total)
