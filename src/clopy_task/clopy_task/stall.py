"""Camera stalls are taken out of task time (the stall rule).

When two consecutive frames are more than ``stall_after_frames`` frame periods apart,
the camera stalled: the gap minus one frame period is added to a pause total, and

    task stamp = frame stamp - pause total

So after a stall the task sees the next frame one frame period after the last one:
trial timers were frozen during the stall (no trial starts, succeeds or times out on
stale data) and the paused trial resumes where it was. A trial is never voided; a
stall longer than the task node's ``stall_limit_s`` ends the session instead.

The task node applies this live (``StallClock`` frame by frame); the offline threshold
simulation applies it to a whole recording (``task_stamps``), so a recorded session
re-run offline gives the same task records. Plain Python, no clock of its own.
"""
from __future__ import annotations

import math

import numpy as np

DEFAULT_STALL_AFTER_FRAMES = 5


def _check(frame_rate_hz: float, stall_after_frames: int) -> tuple[float, int]:
    if not (isinstance(frame_rate_hz, (int, float)) and math.isfinite(frame_rate_hz) and frame_rate_hz > 0):
        raise ValueError(f'stall rule: frame_rate_hz={frame_rate_hz!r}; allowed: a number > 0 (Hz)')
    if isinstance(stall_after_frames, bool) or not isinstance(stall_after_frames, (int, np.integer)) \
            or stall_after_frames < 1:
        raise ValueError(f'stall rule: stall_after_frames={stall_after_frames!r}; allowed: a whole number >= 1')
    return 1.0 / float(frame_rate_hz), int(stall_after_frames)


class StallClock:
    """The stall rule frame by frame: ``task_time(stamp_s)`` for each frame in order.

    Attributes:
        period_s: one frame period (1 / frame_rate_hz).
        stall_gap_s: the longest gap between frames that is not a stall.
        paused_s: total time taken out of task time so far.
        last_pause_s: time taken out at the latest frame (0.0 when it ended no stall).
        stalls: stalls seen so far.
    """

    def __init__(self, frame_rate_hz: float, stall_after_frames: int = DEFAULT_STALL_AFTER_FRAMES) -> None:
        self.period_s, self.stall_after_frames = _check(frame_rate_hz, stall_after_frames)
        self.stall_gap_s = self.stall_after_frames * self.period_s
        self.paused_s = 0.0
        self.last_pause_s = 0.0
        self.stalls = 0
        self._last_stamp_s: float | None = None

    @property
    def last_stamp_s(self) -> float | None:
        """The latest frame stamp given (camera clock), None before the first."""
        return self._last_stamp_s

    def task_time(self, stamp_s: float) -> float:
        """The task stamp of the next frame (stamps in s, in frame order)."""
        stamp_s = float(stamp_s)
        self.last_pause_s = 0.0
        if self._last_stamp_s is not None:
            gap = stamp_s - self._last_stamp_s
            if gap > self.stall_gap_s:
                self.last_pause_s = gap - self.period_s
                self.paused_s += self.last_pause_s
                self.stalls += 1
        self._last_stamp_s = stamp_s
        return stamp_s - self.paused_s


def task_stamps(stamps_s, frame_rate_hz: float,
                stall_after_frames: int = DEFAULT_STALL_AFTER_FRAMES) -> np.ndarray:
    """The stall rule over a whole recording: task stamps for frame stamps in frame order
    (the same numbers as ``StallClock.task_time`` frame after frame)."""
    period_s, n = _check(frame_rate_hz, stall_after_frames)
    stamps = np.asarray(stamps_s, dtype=np.float64)
    if stamps.size < 2:
        return stamps.copy()
    gaps = np.diff(stamps)
    pauses = np.where(gaps > n * period_s, gaps - period_s, 0.0)
    paused = np.concatenate(([0.0], np.cumsum(pauses)))
    return stamps - paused


def stalls_in(stamps_s, frame_rate_hz: float,
              stall_after_frames: int = DEFAULT_STALL_AFTER_FRAMES) -> list[tuple[int, float]]:
    """(position of the frame that ended the stall, time taken out in s) of every stall."""
    period_s, n = _check(frame_rate_hz, stall_after_frames)
    gaps = np.diff(np.asarray(stamps_s, dtype=np.float64))
    where = np.flatnonzero(gaps > n * period_s)
    return [(int(k) + 1, float(gaps[k] - period_s)) for k in where]
