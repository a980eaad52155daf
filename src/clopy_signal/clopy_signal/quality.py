"""Signal-quality guards of roi_dff: which frames give no valid control signal, and why.

A frame's control signal is invalid (``valid`` false, value 0, ``invalid_reason`` set;
the task treats it as 0, so an invalid frame never rewards) when:

* ``warming up: F0 baseline <n> of <N> frames``: the baseline is not full yet
  (not a fault; the task does not count these);
* ``blank frame (mean <m> of <full>)`` / ``saturated frame (mean <m> of <full>)``: the
  frame's mean is outside ``FRAME_MEAN_RANGE`` of its dtype's full scale (for uint8:
  below 5.1 or above 249.9 counts): the light is off, the shutter closed, or the gain
  far too high. Such frames are also kept out of the F0 baseline, so the frames after
  them are measured against the light they had before;
* ``F0 below floor (<roi> <f0> < <min_f0>)``: a ROI's baseline (mean F0 over its
  pixels, lowest channel used) is below ``roi_dff.min_f0`` counts: dF/F of a dark
  baseline is noise divided by almost nothing (a dark run then one bright frame gave
  dF/F 22949);
* ``non-finite dF/F (<roi>=nan)``;
* ``rule: division by zero (BC_L=.., BC_R=..)``: the rule divided by zero on this
  frame (the node logs the first one, with the ROI values).

Plain Python and numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from clopy_signal.dff import DffResult
from clopy_signal.rule import Rule

#: blank below / saturated above these fractions of the dtype's full scale (frame mean)
FRAME_MEAN_RANGE = (0.02, 0.98)
#: default F0 floor in frame counts: GCaMP and reflectance baselines of a lit cortex are
#: tens to hundreds of counts (uint8); a dark frame is a few
DEFAULT_MIN_F0 = 5.0
WARMING_UP = 'warming up'


def full_scale(dtype: np.dtype) -> float | None:
    """The largest value of an integer dtype; None for float frames (no range check)."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else None


def frame_level_problem(frame: np.ndarray) -> str:
    """'blank frame (...)' or 'saturated frame (...)' when the frame's mean is outside
    FRAME_MEAN_RANGE of its dtype's full scale, else ''. Every 4th row and column is
    enough for a mean."""
    full = full_scale(frame.dtype)
    if full is None:
        return ''
    mean = float(frame[::4, ::4].mean())
    low, high = FRAME_MEAN_RANGE[0] * full, FRAME_MEAN_RANGE[1] * full
    if mean < low:
        return f'blank frame (mean {mean:.1f} of {full:g}, allowed {low:.1f}-{high:.1f})'
    if mean > high:
        return f'saturated frame (mean {mean:.1f} of {full:g}, allowed {low:.1f}-{high:.1f})'
    return ''


@dataclass(frozen=True)
class Checked:
    """One frame's control value: value (0.0 when invalid), valid, invalid_reason."""

    value: float
    valid: bool
    reason: str


class SignalGuard:
    """Checks each frame's dF/F and rule value (module docstring).

    Args:
        names: ROI names in ``DffResult.values`` order.
        rule: the control rule.
        min_f0: F0 floor in frame counts (``roi_dff.min_f0``).
        history_frames: the baseline length (for the warming-up reason).
    """

    def __init__(self, names: Sequence[str], rule: Rule, min_f0: float, history_frames: int) -> None:
        self.names = list(names)
        self.rule = rule
        self.min_f0 = float(min_f0)
        self.history_frames = int(history_frames)
        self.division_reported = False

    def check(self, result: DffResult, level_problem: str, frames_in_history: int) -> tuple[Checked, float, str]:
        """(control value, rule value (NaN when not computed), a line to log once or '')."""
        if level_problem:
            return Checked(0.0, False, level_problem), math.nan, ''
        if not result.valid:
            return Checked(0.0, False, f'{WARMING_UP}: F0 baseline {frames_in_history} of '
                                       f'{self.history_frames} frames'), math.nan, ''
        values = dict(zip(self.names, result.values.tolist()))
        if result.f0 is not None:
            low = [(n, f) for n, f in zip(self.names, result.f0.tolist()) if not f >= self.min_f0]
            if low:
                shown = ', '.join(f'{n} {f:.3g}' for n, f in low)
                return Checked(0.0, False, f'F0 below floor ({shown} < {self.min_f0:g})'), math.nan, ''
        bad = [(n, v) for n, v in values.items() if not math.isfinite(v)]
        if bad:
            return Checked(0.0, False, 'non-finite dF/F (' + ', '.join(f'{n}={v}' for n, v in bad) + ')'), \
                math.nan, ''
        value, reason = self.rule.evaluate_checked(values)
        if reason:
            log = ''
            if not self.division_reported:
                self.division_reported = True
                log = (f'{reason}: rule {self.rule.expression!r} gives no value on this frame; frames like '
                       'it are invalid (reported once)')
            return Checked(0.0, False, reason), value, log
        if not math.isfinite(value):
            return Checked(0.0, False, f'rule: non-finite value {value}'), value, ''
        return Checked(value, True, ''), value, ''
