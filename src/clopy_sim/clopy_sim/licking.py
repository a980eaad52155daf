"""The simulated mouse's licking: bouts after rewards, now and then a spontaneous lick.

After each valve opening the mouse starts a bout `bout_latency_s` later (drawn from
the range) that lasts `bout_length_s` (drawn) at a steady lick rate drawn from
`bout_lick_rate_hz`; between bouts it licks spontaneously at `spontaneous_rate_hz`
(a Poisson process). Each lick touches the spout for `touch_s`. Plain Python, seeded:
the same seed and the same reward times give the same touches. Times are arguments
(s, any clock), never read here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _range(name: str, value: Sequence[float], low: float = 0.0) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in value)
    except (TypeError, ValueError):
        raise ValueError(f'{name}={value!r}; allowed: [low, high]') from None
    if not (math.isfinite(a) and math.isfinite(b) and low <= a <= b):
        raise ValueError(f'{name}={value!r}; allowed: [low, high] with {low:g} <= low <= high')
    return a, b


class LickModel:
    """When the simulated tongue touches the spout."""

    def __init__(self, seed: int = 0, spontaneous_rate_hz: float = 0.05,
                 bout_lick_rate_hz: Sequence[float] = (6.0, 10.0), bout_length_s: Sequence[float] = (1.0, 3.0),
                 bout_latency_s: Sequence[float] = (0.1, 0.3), touch_s: float = 0.04) -> None:
        self.rate_hz = _range('bout_lick_rate_hz', bout_lick_rate_hz)
        if self.rate_hz[0] <= 0:
            raise ValueError(f'bout_lick_rate_hz={list(bout_lick_rate_hz)}; allowed: rates > 0 Hz')
        self.length_s = _range('bout_length_s', bout_length_s)
        self.latency_s = _range('bout_latency_s', bout_latency_s)
        if not (math.isfinite(spontaneous_rate_hz) and spontaneous_rate_hz >= 0):
            raise ValueError(f'spontaneous_rate_hz={spontaneous_rate_hz!r}; allowed: a rate >= 0 Hz')
        if not (0 < touch_s < 1.0 / self.rate_hz[1]):
            raise ValueError(f'touch_s={touch_s!r}; allowed: > 0 and shorter than one lick period at the '
                             f'highest bout rate ({1.0 / self.rate_hz[1]:g} s)')
        self.spontaneous_rate_hz = float(spontaneous_rate_hz)
        self.touch_s = float(touch_s)
        self._rng = np.random.default_rng(int(seed))
        self._spont = np.random.default_rng(int(seed) + 1)   # its own stream: rewards do not shift it
        self._touches: list[tuple[float, float]] = []        # (on_s, off_s), sorted by on_s
        self._next_spontaneous_s: float | None = None
        self.bouts = 0

    def reward(self, time_s: float) -> tuple[float, float, float]:
        """A valve opened at `time_s`: schedule a bout; (start_s, length_s, rate_hz)."""
        start = float(time_s) + self._rng.uniform(*self.latency_s)
        length = self._rng.uniform(*self.length_s)
        rate = self._rng.uniform(*self.rate_hz)
        n = max(1, int(math.floor(length * rate)))
        self._add([(start + k / rate, start + k / rate + self.touch_s) for k in range(n)])
        self.bouts += 1
        return start, length, rate

    def touching(self, time_s: float) -> bool:
        """Whether the tongue touches the spout at `time_s` (calls in time order)."""
        time_s = float(time_s)
        self._spontaneous_until(time_s)
        while self._touches and self._touches[0][1] <= time_s:
            self._touches.pop(0)   # finished: never asked for again (time only goes on)
        return any(on <= time_s < off for on, off in self._touches)

    def scheduled(self) -> list[tuple[float, float]]:
        """Touches still to come or going on: (on_s, off_s)."""
        return list(self._touches)

    def _spontaneous_until(self, time_s: float) -> None:
        if self.spontaneous_rate_hz <= 0:
            return
        if self._next_spontaneous_s is None:
            self._next_spontaneous_s = time_s + self._spont.exponential(1.0 / self.spontaneous_rate_hz)
        while self._next_spontaneous_s <= time_s:
            on = self._next_spontaneous_s
            self._add([(on, on + self.touch_s)])
            self._next_spontaneous_s = on + self._spont.exponential(1.0 / self.spontaneous_rate_hz)

    def _add(self, touches: list[tuple[float, float]]) -> None:
        """Merge touches in (overlapping ones become one touch)."""
        merged: list[tuple[float, float]] = []
        for on, off in sorted(self._touches + touches):
            if merged and on <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], off))
            else:
                merged.append((on, off))
        self._touches = merged
