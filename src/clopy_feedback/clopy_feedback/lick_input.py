"""Licks as task input events (pyControl style): each touch of the lick spout becomes
the event 'lick' of the task engine (a release 'lick_off', for a task that declares
it), logged as an ``event``/``input`` record at the touch's own time. Plain Python.

Task time moves with the frames (clopy_task.stall), and a lick message can arrive
before the frame captured just before it. So licks wait here until a frame stamped at
or after them arrives, and go to the engine just before that frame, in stamp order:
the records stay in time order and the task sees a lick at most one frame late. A
lick's task time is its stamp minus the camera stalls taken out before it (never past
the frame that delivers it, never before the task's current time). A task that declares
no 'lick' event gets none; licks before the first frame are not the run's.
"""
from __future__ import annotations

import bisect

LICK, LICK_OFF = 'lick', 'lick_off'


class LickInput:
    def __init__(self) -> None:
        self._pending: list[tuple[float, bool]] = []   # (stamp_s, touching), by stamp
        self.delivered = 0

    def add(self, stamp_s: float, touching: bool) -> None:
        bisect.insort(self._pending, (float(stamp_s), bool(touching)))

    def __len__(self) -> int:
        return len(self._pending)

    def due(self, frame_stamp_s: float) -> list[tuple[float, bool]]:
        """The licks stamped at or before `frame_stamp_s`, taken out, in stamp order."""
        k = bisect.bisect_right(self._pending, (float(frame_stamp_s), True))
        due, self._pending = self._pending[:k], self._pending[k:]
        return due

    def deliver(self, engine, frame_stamp_s: float, paused_before_s: float, frame_task_s: float) -> int:
        """Give the engine the licks due at this frame (before the frame itself).

        paused_before_s: stall time taken out before this frame (StallClock.paused_s
        before the frame); frame_task_s: the frame's task stamp. Returns how many."""
        due = self.due(frame_stamp_s)
        if engine.start_time_s is None or engine.stopped:
            return 0
        events = engine.task.events
        n = 0
        for stamp_s, touching in due:
            name = LICK if touching else LICK_OFF
            if name not in events or engine.stopped:
                continue
            now_s = engine.start_time_s + engine.time_s
            if stamp_s - paused_before_s < engine.start_time_s:
                continue   # before the run started
            t_s = max(min(stamp_s - paused_before_s, frame_task_s), now_s)
            engine.trigger_event(name, t_s, subtype='input')
            n += 1
        self.delivered += n
        return n
