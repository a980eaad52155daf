"""The CLMF stillness condition, for task files: has the paw been still long enough?

A CLMF trial may start only when the mean control-point speed over the last
``window_s`` (5 s in the original: 151 frames at 30 fps) is below
``level_px_per_frame`` (1 px/frame). The task feeds every frame's speed (px/frame)
with its time (s) and asks ``still``.

The window holds the samples with ``t >= t_now - window_s`` (both ends included); it is
*full* once a sample at or before ``t_now - window_s`` has been seen. ``still`` needs a
full window, at least ``min_valid_fraction`` valid samples in it, and a mean of the
valid speeds strictly below the level. Invalid speeds (pose not usable, first frame)
are left out of the mean rather than read as 0 px/frame, which would fake stillness.

The same rule is ``clopy_signal.speed.StillnessDetector`` (for the speed node); this
copy keeps the task package free of a dependency on clopy_signal. Keep the two alike.
"""
from __future__ import annotations

import collections
import math
import numbers

_TIME_TOLERANCE_S = 1e-9  # float slack when comparing frame stamps with window edges


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


class StillnessWindow:
    """Running mean of the control-point speed over the last ``window_s``.

    Args:
        window_s: window length in s; > 0.
        level_px_per_frame: stillness level in px/frame; > 0. May be changed between
            samples (``level_px_per_frame`` attribute); the window length may not.
        min_valid_fraction: share of valid samples the window needs, in (0, 1].
    """

    def __init__(self, window_s: float = 5.0, level_px_per_frame: float = 1.0,
                 min_valid_fraction: float = 0.5) -> None:
        for key, value in (('window_s', window_s), ('level_px_per_frame', level_px_per_frame)):
            if not (_is_real(value) and math.isfinite(value) and value > 0):
                raise ValueError(f'StillnessWindow: {key}={value!r}; allowed: a finite number > 0')
        if not (_is_real(min_valid_fraction) and 0.0 < min_valid_fraction <= 1.0):
            raise ValueError(f'StillnessWindow: min_valid_fraction={min_valid_fraction!r}; '
                             'allowed: a number in (0, 1]')
        self.window_s = float(window_s)
        self.level_px_per_frame = float(level_px_per_frame)
        self.min_valid_fraction = float(min_valid_fraction)
        self._samples: collections.deque[tuple[float, float | None]] = collections.deque()
        self._first_t_s: float | None = None
        self._now_s: float | None = None

    def update(self, t_s: float, speed_px_per_frame: float | None) -> None:
        """Add the speed (px/frame) of the frame at ``t_s`` (s); None or NaN = unknown.

        Raises:
            ValueError: t_s not finite or before the previous sample, or speed not a number.
        """
        if not (_is_real(t_s) and math.isfinite(t_s)):
            raise ValueError(f'StillnessWindow.update: t_s={t_s!r}; allowed: a finite time in s')
        if self._now_s is not None and t_s < self._now_s:
            raise ValueError(f'StillnessWindow.update: t_s={t_s!r} is before the previous '
                             f'sample\'s t_s={self._now_s!r}')
        value = None
        if speed_px_per_frame is not None:
            if not _is_real(speed_px_per_frame):
                raise ValueError(f'StillnessWindow.update: speed_px_per_frame='
                                 f'{speed_px_per_frame!r}; allowed: a number or None')
            if math.isfinite(speed_px_per_frame):
                value = float(speed_px_per_frame)
        if self._first_t_s is None:
            self._first_t_s = float(t_s)
        self._now_s = float(t_s)
        self._samples.append((self._now_s, value))
        start_s = self._now_s - self.window_s - _TIME_TOLERANCE_S
        while self._samples[0][0] < start_s:
            self._samples.popleft()

    @property
    def full(self) -> bool:
        """The samples seen cover the whole window."""
        return (self._first_t_s is not None
                and self._first_t_s <= self._now_s - self.window_s + _TIME_TOLERANCE_S)

    @property
    def mean_speed(self) -> float:
        """Mean of the valid speeds in the window, px/frame (NaN when there are none)."""
        valid = [s for _, s in self._samples if s is not None]
        return math.fsum(valid) / len(valid) if valid else math.nan

    @property
    def still(self) -> bool:
        """Window full, enough valid samples, mean speed < ``level_px_per_frame``."""
        if not self.full:
            return False
        n_valid = sum(s is not None for _, s in self._samples)
        if n_valid == 0 or n_valid < self.min_valid_fraction * len(self._samples):
            return False
        return self.mean_speed < self.level_px_per_frame
