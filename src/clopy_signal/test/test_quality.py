"""Signal-quality guards: frames whose dF/F cannot be trusted give no valid control signal."""

import numpy as np
import pytest

from clopy_signal.dff import DffEstimator
from clopy_signal.quality import DEFAULT_MIN_F0, SignalGuard, frame_level_problem
from clopy_signal.roi import Roi
from clopy_signal.rule import Rule

H = W = 64
HISTORY = 10


def rois():
    return [Roi('BC_L', 10, 10, 8, 8), Roi('BC_R', 10, 40, 8, 8)]


def lit(rng, green=100.0, blue=70.0):
    """A lit cortex frame (BGR uint8): green ~100 counts, blue ~70, a little noise."""
    frame = np.empty((H, W, 3), np.uint8)
    frame[..., 0] = np.clip(blue + rng.normal(0, 2, (H, W)), 0, 255)
    frame[..., 1] = np.clip(green + rng.normal(0, 2, (H, W)), 0, 255)
    frame[..., 2] = 40
    return frame


class Pipeline:
    """What roi_dff does with each frame (roi_dff_node.process, without ROS)."""

    def __init__(self, rule='BC_L-BC_R', min_f0=DEFAULT_MIN_F0):
        self.estimator = DffEstimator(rois(), HISTORY, 'green_minus_blue')
        self.guard = SignalGuard(['BC_L', 'BC_R'], Rule(rule, ['BC_L', 'BC_R']), min_f0, HISTORY)
        self.logged = []

    def __call__(self, frame):
        problem = frame_level_problem(frame)
        filled = self.estimator.frames_in_history
        result = self.estimator.update(frame, add_to_baseline=not problem)
        checked, _, log = self.guard.check(result, problem, filled)
        if log:
            self.logged.append(log)
        return checked


def test_lit_cortex_frames_are_valid_after_warming_up():
    rng = np.random.default_rng(0)
    run = Pipeline()
    out = [run(lit(rng)) for _ in range(HISTORY + 20)]
    assert all(not c.valid and c.reason.startswith('warming up: F0 baseline') for c in out[:HISTORY])
    assert out[0].reason == f'warming up: F0 baseline 0 of {HISTORY} frames'
    assert all(c.valid and c.reason == '' and abs(c.value) < 0.2 for c in out[HISTORY:])


def test_dark_frames_then_one_bright_frame_give_no_valid_signal():
    # the reported case: darkness, then one bright frame (dF/F 22949 and false rewards before)
    run = Pipeline(rule='BC_L')
    dark = np.zeros((H, W, 3), np.uint8)
    dark[::7, ::5] = 3     # a few counts of stray light
    out = [run(dark) for _ in range(50)]
    bright = np.full((H, W, 3), 200, np.uint8)
    out.append(run(bright))
    assert not any(c.valid for c in out)
    assert all(c.value == 0.0 for c in out)
    assert out[0].reason.startswith('blank frame (mean ')
    assert out[-1].reason.startswith('warming up')       # the dark frames were kept out of F0


def test_a_dim_baseline_is_below_the_floor():
    rng = np.random.default_rng(1)
    run = Pipeline()
    for _ in range(HISTORY):
        run(lit(rng, green=100.0, blue=3.0))   # lit frame, but the blue channel is almost dark
    checked = run(lit(rng, green=100.0, blue=3.0))
    assert not checked.valid
    assert checked.reason.startswith('F0 below floor (BC_L ') and checked.reason.endswith(f'< {DEFAULT_MIN_F0:g})')


def test_blank_and_saturated_frames_are_named_and_kept_out_of_the_baseline():
    rng = np.random.default_rng(2)
    run = Pipeline()
    for _ in range(HISTORY):
        run(lit(rng))
    blank = run(np.zeros((H, W, 3), np.uint8))
    saturated = run(np.full((H, W, 3), 255, np.uint8))
    assert (blank.valid, saturated.valid) == (False, False)
    assert blank.reason == 'blank frame (mean 0.0 of 255, allowed 5.1-249.9)'
    assert saturated.reason == 'saturated frame (mean 255.0 of 255, allowed 5.1-249.9)'
    after = run(lit(rng))
    assert after.valid and abs(after.value) < 0.2   # the baseline is still the lit one


def test_a_rule_dividing_by_zero_is_invalid_and_reported_once_with_the_roi_values():
    rng = np.random.default_rng(3)
    run = Pipeline(rule='BC_L/(BC_R-BC_R)')
    out = [run(lit(rng)) for _ in range(HISTORY + 5)][HISTORY:]
    assert not any(c.valid for c in out)
    assert all(c.reason.startswith('rule: division by zero (BC_L=') and ', BC_R=' in c.reason for c in out)
    assert len(run.logged) == 1 and "rule 'BC_L/(BC_R-BC_R)'" in run.logged[0]


def test_float_frames_have_no_level_range():
    assert frame_level_problem(np.zeros((8, 8), np.float32)) == ''


@pytest.mark.parametrize('value, reason', [(1, 'blank'), (254, 'saturated')])
def test_mono16_frames_use_their_own_full_scale(value, reason):
    frame = np.full((8, 8), value * 257, np.uint16)
    assert frame_level_problem(frame).startswith(reason)
