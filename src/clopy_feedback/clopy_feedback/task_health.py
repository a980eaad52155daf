"""What the task node watches besides the task itself: camera stalls, the first frame,
invalid control signals and refused rewards. Plain Python (no rclpy): the node feeds it
the frames as they arrive and asks it, on a wall-clock timer, whether frames still come.

* Task time: the stall rule of clopy_task.stall (a gap of more than
  ``stall_after_frames`` frame periods between frame stamps is taken out of task time).
* Stall watchdog (wall clock): no control signal for ``stall_after_frames`` frame
  periods (never less than ``MIN_WATCHDOG_S``, so a busy computer's hiccup is not a
  stall) -> a ``stall`` warning (the node turns the tone off); the next frame ends it
  (``stall_end``, with its length); no frame for more than ``stall_limit_s`` -> the
  session ends with an error.
* First frame: ``first_frame_timeout_s`` counted from the first frame_info the task
  receives (a camera is delivering frames), or, when none comes, from the node's start
  plus ``FIRST_FRAME_GRACE_S`` (the camera waits up to its wait_timeout_s for the graph).
* Invalid control signal: counted per frame (``invalid_frames``), except frames whose
  ``invalid_reason`` starts with ``WARMING_UP`` (dF/F baseline filling, first pose);
  a run of more than ``invalid_warn_frames`` invalid frames gives one warning.
"""
from __future__ import annotations

from dataclasses import dataclass

from clopy_task.stall import StallClock

MIN_WATCHDOG_S = 0.5       # the wall-clock watchdog never calls a shorter silence a stall
FIRST_FRAME_GRACE_S = 60.0  # no frame_info at all: the first-frame timeout starts this late
WARMING_UP = 'warming up'   # invalid_reason prefix of an estimator that is not ready yet (not a fault)


@dataclass(frozen=True)
class Notice:
    """A task event the node publishes: type ('warning' | 'info' | 'error'), subtype, content."""

    type: str
    subtype: str
    content: str


class TaskHealth:
    """Stall rule, stall watchdog, first-frame timeout, invalid-signal and refusal counts.

    Times ``now_s`` are wall-clock (monotonic) s; ``stamp_s`` are frame stamps in s.
    """

    def __init__(self, frame_rate_hz: float, stall_after_frames: int, stall_limit_s: float,
                 first_frame_timeout_s: float, invalid_warn_frames: int, start_s: float) -> None:
        self.clock = StallClock(frame_rate_hz, stall_after_frames)
        self.watchdog_s = max(self.clock.stall_gap_s, MIN_WATCHDOG_S)
        self.stall_limit_s = float(stall_limit_s)
        self.first_frame_timeout_s = float(first_frame_timeout_s)
        self.invalid_warn_frames = int(invalid_warn_frames)
        self._counting_from_s = float(start_s) + FIRST_FRAME_GRACE_S
        self._camera_seen = False
        self.frames = 0
        self.invalid_frames = 0
        self.invalid_run = 0
        self._run_warned = False
        self.stalled = False
        self._stalled_done_s = 0.0
        self.rewards_refused = 0
        self.warning = ''
        self._last_arrival_s: float | None = None

    # -- inputs -----------------------------------------------------------------------
    def camera_seen(self, now_s: float) -> None:
        """A frame_info arrived: the first-frame timeout counts from the first one."""
        if not self._camera_seen:
            self._camera_seen = True
            self._counting_from_s = float(now_s)

    def frame(self, now_s: float, stamp_s: float, valid: bool, invalid_reason: str = '') -> tuple[float, list[Notice]]:
        """A control signal arrived: its task time (stall rule) and the notices it causes."""
        task_s = self.clock.task_time(stamp_s)
        notices: list[Notice] = []
        pause_s = self.clock.last_pause_s
        if self.stalled:
            length_s = pause_s if pause_s > 0 else now_s - self._last_arrival_s
            notices.append(self._stall_end(length_s))
            self.stalled = False
        elif pause_s > 0:   # a gap in the stamps the watchdog did not see (e.g. a re-run)
            notices.append(self._warn('stall', f'no frame for {pause_s + self.clock.period_s:.2f} s: task paused'))
            notices.append(self._stall_end(pause_s))
        notices.extend(self._count_validity(valid, invalid_reason))
        self._last_arrival_s = float(now_s)
        self.frames += 1
        return task_s, notices

    def reward_refused(self, note: str, frame_index: int) -> Notice:
        """A valve command the reward node refused: an error of the session."""
        self.rewards_refused += 1
        content = f'{note or "valve command refused"} (frame {frame_index})'
        self.warning = content
        return Notice('error', 'reward_refused', content)

    # -- the wall-clock watchdog --------------------------------------------------------
    def check(self, now_s: float) -> tuple[list[Notice], str | None]:
        """Notices (a stall starting) and, when the session must end, the end reason."""
        if self._last_arrival_s is None:
            if now_s - self._counting_from_s > self.first_frame_timeout_s:
                waited_s = self.first_frame_timeout_s + (0.0 if self._camera_seen else FIRST_FRAME_GRACE_S)
                return [], f'no first frame within {waited_s:g} s'
            return [], None
        silent_s = now_s - self._last_arrival_s
        notices = []
        if not self.stalled and silent_s > self.watchdog_s:
            self.stalled = True
            notices.append(self._warn('stall', f'no frame for {silent_s:.2f} s: task paused, tone off'))
        if self.stalled and silent_s > self.stall_limit_s:
            return notices, f'camera stalled: no frame for {silent_s:.2f} s (limit {self.stall_limit_s:g} s)'
        return notices, None

    def stalled_s(self, now_s: float) -> float:
        """Total stall time so far, the stall going on included."""
        ongoing = now_s - self._last_arrival_s if self.stalled and self._last_arrival_s is not None else 0.0
        return self._stalled_done_s + max(0.0, ongoing)

    # -- internals ------------------------------------------------------------------------
    def _warn(self, subtype: str, content: str) -> Notice:
        self.warning = content
        return Notice('warning', subtype, content)

    def _stall_end(self, length_s: float) -> Notice:
        self._stalled_done_s += max(0.0, length_s)
        return Notice('info', 'stall_end', f'stall of {length_s:.2f} s: task time paused, the trial resumes')

    def _count_validity(self, valid: bool, reason: str) -> list[Notice]:
        if valid:
            self.invalid_run = 0
            self._run_warned = False
            return []
        if reason.startswith(WARMING_UP):
            return []
        self.invalid_frames += 1
        self.invalid_run += 1
        if self.invalid_run > self.invalid_warn_frames and not self._run_warned:
            self._run_warned = True
            return [self._warn('invalid_signal', f'{reason or "invalid control signal"} for {self.invalid_run} frames')]
        return []
