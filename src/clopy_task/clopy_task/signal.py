"""The control signal and the variables as a task sees them (``signal``, ``v``)."""

from __future__ import annotations

import collections
import math
from typing import Any, Callable

import numpy as np

from clopy_task.records import TaskError, is_real

HISTORY_S = 60.0  # signal history kept for signal.delayed() unless a longer delay is asked


class Signal:
    """The control signal as the task sees it: ``signal.value`` is the current frame's value.

    Invalid or non-finite frames read as 0.0 with ``valid`` False. The history is kept
    across states (as in the original), bounded to ``HISTORY_S`` or the longest delay asked.
    """

    def __init__(self, frame_rate_hz: float):
        self.value = 0.0
        self.valid = False
        self.frame_index = -1
        self._frame_rate_hz = frame_rate_hz
        self._history: collections.deque[tuple[int, float]] = collections.deque(
            maxlen=max(2, math.ceil(HISTORY_S * frame_rate_hz) + 1))

    @property
    def history_frames(self) -> int:
        """How many frames the history keeps now."""
        return self._history.maxlen

    def delay_frames(self, delay_s: float) -> int:
        """Frames back for a delay in s: ``round(delay_s * frame_rate_hz)``."""
        if not (is_real(delay_s) and delay_s >= 0):
            raise TaskError(f'signal.delayed: delay_s={delay_s!r}; allowed: a number of s >= 0')
        return round(delay_s * self._frame_rate_hz)

    def _push(self, frame_index: int, value: float, valid: bool) -> None:
        valid = bool(valid) and math.isfinite(value)
        self.value = float(value) if valid else 0.0
        self.valid = valid
        self.frame_index = frame_index
        self._history.append((frame_index, self.value))

    def _push_many(self, frame_index: np.ndarray, values: np.ndarray, valid: np.ndarray) -> None:
        """Push frames in bulk (values already 0.0 where invalid); same state as one by one."""
        keep = self._history.maxlen
        self._history.extend(zip(frame_index[-keep:].tolist(), values[-keep:].tolist()))
        self.value = float(values[-1])
        self.valid = bool(valid[-1])
        self.frame_index = int(frame_index[-1])

    def delayed(self, delay_s: float) -> float:
        """Value from ``round(delay_s * frame_rate_hz)`` frames ago.

        A dropped frame reads as the latest frame seen before it; a frame older than the
        first one seen reads 0.0 (the original's delay line starts filled with zeros).
        """
        n_frames = self.delay_frames(delay_s)
        if n_frames + 1 > self._history.maxlen:  # n frames back needs at most n + 1 entries
            self._history = collections.deque(self._history, maxlen=n_frames + 1)
        target = self.frame_index - n_frames
        for index, value in reversed(self._history):
            if index <= target:
                return value
        return 0.0


def delayed_array(frame_index: np.ndarray, values: np.ndarray, n_frames: int) -> np.ndarray:
    """``Signal.delayed`` for every frame of a run that saw exactly these frames (from the
    first one, values 0.0 where invalid), with a history of at least n_frames + 1."""
    pos = np.searchsorted(frame_index, frame_index - n_frames, side='right') - 1
    return np.where(pos >= 0, values[np.maximum(pos, 0)], 0.0)


class Variables:
    """Task variables, ``v.name``. Assignments go through the engine so they can be logged."""

    def __init__(self, on_set: Callable[[str, Any], None]):
        object.__setattr__(self, '_values', {})
        object.__setattr__(self, '_on_set', on_set)

    def __getattr__(self, name: str) -> Any:
        try:
            return object.__getattribute__(self, '_values')[name]
        except KeyError:
            raise AttributeError(f'task variable v.{name} is not defined') from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._on_set(name, value)
