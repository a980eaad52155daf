"""Adaptive threshold staircase: the original's steps, plus the floor it lacked."""

import pytest

from clopy_task.threshold import ThresholdAdapter


def test_more_than_one_reward_raises_by_one_step():
    adapter = ThresholdAdapter(step=0.002)
    assert adapter.next_threshold(0.075, 2) == 0.077
    assert adapter.next_threshold(0.075, 7) == 0.077


def test_no_reward_lowers_by_one_step():
    assert ThresholdAdapter(step=0.002).next_threshold(0.075, 0) == 0.073


def test_exactly_one_reward_keeps_the_threshold():
    assert ThresholdAdapter(step=0.002).next_threshold(0.075, 1) == 0.075


def test_floor_and_ceiling_clamp():
    adapter = ThresholdAdapter(step=0.002, floor=0.074, ceiling=0.076)
    assert adapter.next_threshold(0.075, 0) == 0.074
    assert adapter.next_threshold(0.074, 0) == 0.074
    assert adapter.next_threshold(0.075, 3) == 0.076


def test_without_floor_the_threshold_can_go_below_zero_like_the_original():
    assert ThresholdAdapter(step=0.002).next_threshold(0.001, 0) == -0.001


def test_clmf_steps_in_pixels_per_frame():
    adapter = ThresholdAdapter(step=2.0, floor=2.0)
    assert adapter.next_threshold(20.0, 2) == 22.0
    assert adapter.next_threshold(3.0, 0) == 2.0


def test_many_steps_do_not_accumulate_float_drift():
    adapter = ThresholdAdapter(step=0.002)
    thr = 0.075
    for _ in range(50):
        thr = adapter.next_threshold(thr, 2)
    assert thr == 0.175
    assert repr(thr) == '0.175'


@pytest.mark.parametrize('kwargs, text', [
    ({'step': 0.0}, 'step=0.0'),
    ({'step': -1.0}, 'step=-1.0'),
    ({'step': float('nan')}, 'step=nan'),
    ({'step': 0.1, 'floor': 'low'}, "floor='low'"),
    ({'step': 0.1, 'floor': 1.0, 'ceiling': 0.5}, 'floor=1.0 > ceiling=0.5'),
])
def test_bad_settings_are_rejected_with_the_value(kwargs, text):
    with pytest.raises(ValueError, match='allowed') as info:
        ThresholdAdapter(**kwargs)
    assert text in str(info.value)


def test_bad_reward_count_is_rejected():
    with pytest.raises(ValueError, match='rewards_in_window=-1'):
        ThresholdAdapter(step=0.002).next_threshold(0.075, -1)
    with pytest.raises(ValueError, match='rewards_in_window=1.5'):
        ThresholdAdapter(step=0.002).next_threshold(0.075, 1.5)
