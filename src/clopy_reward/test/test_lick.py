"""Debounced lick detection (clopy_reward.lick): raw samples in, touch changes out."""
import pytest

from clopy_reward.lick import Debouncer, LickChange


def run(debouncer, samples):
    return [c for c in (debouncer.sample(t, raw) for t, raw in samples) if c is not None]


def test_a_held_touch_is_one_lick_stamped_when_it_was_first_seen():
    d = Debouncer(0.02)
    samples = [(0.00, False), (0.01, True), (0.02, True), (0.03, True), (0.04, True), (0.05, False),
               (0.06, False), (0.07, False), (0.08, False)]
    changes = run(d, samples)
    assert changes == [LickChange(0.01, True, 1), LickChange(0.05, False, 1, pytest.approx(0.04))]
    assert not d.touching and d.count == 1


def test_bounces_shorter_than_the_debounce_time_give_nothing():
    d = Debouncer(0.02)
    # one-sample blips up, then while touching, one-sample blips down
    samples = [(0.00, False), (0.01, True), (0.02, False), (0.03, True), (0.04, False),
               (0.10, True), (0.11, True), (0.12, True), (0.13, False), (0.14, True), (0.15, True)]
    changes = run(d, samples)
    assert changes == [LickChange(0.10, True, 1)]
    assert d.touching


def test_zero_debounce_takes_every_change_and_counts_licks():
    d = Debouncer(0.0)
    changes = run(d, [(0.0, True), (0.1, False), (0.2, True), (0.25, False)])
    assert [(c.touching, c.count) for c in changes] == [(True, 1), (False, 1), (True, 2), (False, 2)]
    assert changes[3].duration_s == pytest.approx(0.05)


def test_finish_ends_a_touch_going_on_and_nothing_else():
    d = Debouncer(0.0)
    d.sample(1.0, True)
    end = d.finish(1.5)
    assert end == LickChange(1.5, False, 1, 0.5)
    assert d.finish(2.0) is None


def test_samples_out_of_time_order_and_bad_debounce_are_refused():
    d = Debouncer(0.01)
    d.sample(1.0, False)
    with pytest.raises(ValueError, match='time order'):
        d.sample(0.5, True)
    for bad in (-0.1, float('nan'), 'x'):
        with pytest.raises(ValueError, match='debounce_s'):
            Debouncer(bad)
