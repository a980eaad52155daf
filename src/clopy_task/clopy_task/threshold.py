"""Adaptive reward threshold (CLoPy's staircase on the reward rate).

At the end of every adaptation window (30 s in the original) the threshold moves
by one step: more than one reward in the window raises it (the task was too easy),
no reward lowers it (too hard), exactly one keeps it. Thresholds are in the control
signal's units (dF/F for CLNF, px/frame for CLMF).
"""

from __future__ import annotations

import dataclasses
import math
import numbers


def _check_number(name: str, value: object, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        allowed = 'a finite number or None' if allow_none else 'a finite number'
        raise ValueError(f'ThresholdAdapter: {name}={value!r}; allowed: {allowed}')


@dataclasses.dataclass(frozen=True)
class ThresholdAdapter:
    """One-step staircase on the number of rewards per window.

    Fields:
        step: amount added or removed per window, in signal units; > 0
            (original: 0.002 dF/F for CLNF, 2 px/frame for CLMF).
        floor: lowest allowed threshold, or None for no floor (the original CLNF had
            none, which let the threshold reach 0 and below).
        ceiling: highest allowed threshold, or None for no ceiling.
    """

    step: float
    floor: float | None = None
    ceiling: float | None = None

    def __post_init__(self) -> None:
        _check_number('step', self.step, allow_none=False)
        if self.step <= 0:
            raise ValueError(f'ThresholdAdapter: step={self.step!r}; allowed: a number > 0')
        _check_number('floor', self.floor, allow_none=True)
        _check_number('ceiling', self.ceiling, allow_none=True)
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise ValueError(f'ThresholdAdapter: floor={self.floor!r} > ceiling={self.ceiling!r}; '
                             'allowed: floor <= ceiling')

    def next_threshold(self, threshold: float, rewards_in_window: int) -> float:
        """Threshold for the next window given the rewards counted in the last one."""
        _check_number('threshold', threshold, allow_none=False)
        count_ok = isinstance(rewards_in_window, numbers.Integral) \
            and not isinstance(rewards_in_window, bool)
        if not count_ok or rewards_in_window < 0:
            raise ValueError(f'ThresholdAdapter: rewards_in_window={rewards_in_window!r}; '
                             'allowed: an integer >= 0')
        if rewards_in_window > 1:
            new = threshold + self.step
        elif rewards_in_window == 0:
            new = threshold - self.step
        else:
            new = threshold
        if self.floor is not None:
            new = max(new, self.floor)
        if self.ceiling is not None:
            new = min(new, self.ceiling)
        # Repeated binary additions drift (0.075 + 0.002 = 0.07700000000000001); rounding
        # to 12 decimals keeps logged thresholds readable and is far below any signal's
        # resolution.
        return round(float(new), 12)
