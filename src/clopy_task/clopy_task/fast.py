"""Running a whole recorded signal through the engine, skipping frames where nothing happens.

``run_signal`` gives the same records and the same reward / fail outputs as calling
``process_frame`` for every frame. A frame can only matter when

* a timer falls due (timers fire with the first frame stamped at or after them),
* the current state (or all_states) receives 'frame' events,
* an armed signal watch is true on it, or
* a feedback tone is set and tones are wanted.

Between such frames the engine only has to remember the signal, so whole stretches
are pushed at once and the first frame where a watch is true is found with numpy on
the delayed signal. Tasks that take 'frame' in every state (``frame_events =
'every_state'``, the default) run frame by frame, exactly as live.

Part of TaskEngine (a mixin).
"""

from __future__ import annotations

import math

import numpy as np

from clopy_task.signal import delayed_array


class FastRun:
    """``run_signal`` of TaskEngine."""

    def run_signal(self, stamps_s, values, valid=None, frame_index=None, *,
                   tones: bool = False, fast: bool = True) -> int:
        """Deliver a recorded signal as ``process_frame`` would, frame after frame.

        stamps_s: frame stamps in s (the caller's clock). values: the control signal.
        valid: per-frame validity (default: finite values). frame_index: default 0, 1, ...
        tones: False skips the per-frame feedback tone (outputs without a tone device;
        tones set by the task's own handlers still go out). fast: False processes every
        frame (the reference the fast way is tested against).
        Stops at the end of the data or of the run; returns the frames consumed.
        """
        stamps = np.asarray(stamps_s, dtype=np.float64)
        vals = np.asarray(values, dtype=np.float64)
        n = stamps.size
        ok = np.isfinite(vals) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(vals)
        index = np.arange(n, dtype=np.int64) if frame_index is None else np.asarray(frame_index,
                                                                                    np.int64)
        if not (vals.size == ok.size == index.size == n):
            raise ValueError(f'{self.task_path}: run_signal: stamps_s, values, valid and '
                             f'frame_index have lengths {n}, {vals.size}, {ok.size}, {index.size}; '
                             'allowed: equal lengths')
        self._running('run_signal')
        if not (fast and self._can_skip(stamps, index)):
            return self._frame_by_frame(stamps, vals, ok, index, 0)
        run = stamps - self._t0_s
        pushed = np.where(ok, vals, 0.0)
        delayed: dict[int, np.ndarray] = {}
        k = 0
        while k < n and not self._stopped:
            if self._wants_frames() or (tones and self._feedback is not None):
                self._deliver_frame(float(run[k]), int(index[k]), float(vals[k]), bool(ok[k]),
                                    tones)
                k += 1
                continue
            stop = int(np.searchsorted(run, self._next_due_s(), side='left'))
            hit = self._first_watch_hit(k, stop, pushed, index, delayed)
            end = stop if hit is None else hit  # frames [k, end) change nothing but the signal
            if end > k:
                self.signal._push_many(index[k:end], pushed[k:end], ok[k:end])
                self._frame_index = int(index[end - 1])
                self._now_s = max(self._now_s, float(run[end - 1]))
                k = end
            if k < n and not self._stopped:  # the timer's frame or the watch's frame
                self._deliver_frame(float(run[k]), int(index[k]), float(vals[k]), bool(ok[k]),
                                    tones)
                k += 1
        return k

    def _can_skip(self, stamps: np.ndarray, index: np.ndarray) -> bool:
        """The fast way needs what makes process_frame log nothing extra: stamps in order
        and not before task time, frame indices rising, no frame seen before; and watch
        delays inside the signal history."""
        if stamps.size == 0 or self.signal.frame_index >= 0 or self._frame_index >= 0:
            return False
        if not (np.all(np.diff(stamps) >= 0) and np.all(np.diff(index) > 0)):
            return False
        return stamps[0] - self._t0_s >= self._now_s and index[0] >= 0

    def _first_watch_hit(self, k: int, stop: int, pushed: np.ndarray, index: np.ndarray,
                         delayed: dict[int, np.ndarray]) -> int | None:
        """First frame in [k, stop) where an armed watch is true (None: none is)."""
        first = None
        for watch in self._watches:
            n_back = self.signal.delay_frames(self._level(watch.delay))
            if n_back + 1 > self.signal.history_frames:
                return k  # the history grows on this frame's read: take it the slow way
            if n_back not in delayed:
                delayed[n_back] = delayed_array(index, pushed, n_back)
            start = k
            while start < stop and index[start] <= watch.armed_after:
                start += 1
            window = delayed[n_back][start:stop]
            hits = np.flatnonzero(window > self._level(watch.above) if watch.above is not None
                                  else window < self._level(watch.below))
            if hits.size and (first is None or start + hits[0] < first):
                first = start + int(hits[0])
        return first

    def _frame_by_frame(self, stamps, vals, ok, index, k: int) -> int:
        n = stamps.size
        process = self.process_frame
        stamps_l, vals_l, ok_l, index_l = (stamps.tolist(), vals.tolist(), ok.tolist(),
                                           index.tolist())
        while k < n and not self._stopped:
            process(stamps_l[k], index_l[k], vals_l[k], ok_l[k])
            k += 1
        return k
