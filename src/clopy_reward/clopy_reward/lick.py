"""Lick detection without ROS: raw sensor samples in, debounced touch changes out.

The lick node polls its sensor (clopy_reward.lick_backends) at `poll_hz` and hands
every sample to a :class:`Debouncer` with the time it was taken. A change of the raw
state counts only once it has held for `debounce_s` (a bouncing contact or a noisy
electrode gives no extra licks); the change is stamped with the time of the first
sample that showed it, so the stamp is the moment the tongue touched, not the moment
the debounce ended. Times are arguments (s, any clock), never read here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


_TOLERANCE_S = 1e-9   # stamps as floats: 0.12 - 0.10 must count as 0.02 s


@dataclass(frozen=True)
class LickChange:
    """A debounced change: a touch began (touching True) or ended.

    time_s: when it was first seen; count: touches so far, this one included;
    duration_s: on a release, how long the touch lasted (0 on a touch)."""

    time_s: float
    touching: bool
    count: int
    duration_s: float = 0.0


class Debouncer:
    """Debounced touch on/off from raw samples taken in time order."""

    def __init__(self, debounce_s: float) -> None:
        if not (isinstance(debounce_s, (int, float)) and math.isfinite(debounce_s) and debounce_s >= 0):
            raise ValueError(f'debounce_s={debounce_s!r}; allowed: a number of s >= 0')
        self.debounce_s = float(debounce_s)
        self.touching = False
        self.count = 0
        self._touch_s: float | None = None      # when the current touch began
        self._candidate_s: float | None = None  # first sample of a raw state not yet accepted
        self._last_s: float | None = None

    def sample(self, time_s: float, raw: bool) -> LickChange | None:
        """One raw reading at `time_s`; the change it completes, or None."""
        time_s = float(time_s)
        if self._last_s is not None and time_s < self._last_s:
            raise ValueError(f'sample at {time_s} s after one at {self._last_s} s: samples must come in time order')
        self._last_s = time_s
        if bool(raw) == self.touching:
            self._candidate_s = None   # a bounce shorter than debounce_s: nothing happened
            return None
        if self._candidate_s is None:
            self._candidate_s = time_s
        if time_s - self._candidate_s < self.debounce_s - _TOLERANCE_S:
            return None
        return self._accept(self._candidate_s)

    def finish(self, time_s: float) -> LickChange | None:
        """The end of sensing at `time_s` (the node stops): a touch going on is ended."""
        if not self.touching:
            return None
        return self._accept(max(float(time_s), self._touch_s))

    def _accept(self, at_s: float) -> LickChange:
        self._candidate_s = None
        self.touching = not self.touching
        if self.touching:
            self.count += 1
            self._touch_s = at_s
            return LickChange(at_s, True, self.count)
        duration_s = at_s - self._touch_s
        self._touch_s = None
        return LickChange(at_s, False, self.count, duration_s)
