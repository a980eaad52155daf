"""The live state of a session as the page shows it, fed by the dashboard node's
callbacks and read by the web server's thread. Plain Python.

Time series (control signal, tone) are kept for `history_s` of session time with a
running sequence number, so each page asks only for what is new (`delta(cursor)`);
trial outcomes come from the status counters (a success or failure more than before
is the outcome of the current trial)."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np

HISTORY_S = 60.0
EVENTS_KEPT = 40
LATENCIES_KEPT = 600


class Series:
    """(seq, t_s, value...) rows, the last `history_s` of t_s."""

    def __init__(self, history_s: float = HISTORY_S) -> None:
        self.history_s = history_s
        self.rows: deque = deque()
        self.seq = 0

    def add(self, t_s: float, *values: float) -> None:
        self.seq += 1
        self.rows.append((self.seq, t_s, *values))
        while self.rows and t_s - self.rows[0][1] > self.history_s:
            self.rows.popleft()

    def since(self, cursor: int) -> list:
        return [list(r[1:]) for r in self.rows if r[0] > cursor]


def percentile_ms(values, q: float) -> float | None:
    return float(np.percentile(np.asarray(values), q) * 1000.0) if len(values) else None


class LiveState:
    """Everything the page shows; every method is thread-safe."""

    def __init__(self, mouse: str = '', paradigm: str = '', overlay: dict | None = None,
                 history_s: float = HISTORY_S, clock=time.monotonic) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.started = clock()
        self.info: dict[str, Any] = {'mouse': mouse, 'paradigm': paradigm, 'overlay': overlay or {}}
        self.signal = Series(history_s)       # t_s, value, threshold, valid
        self.tone = Series(history_s)         # t_s, frequency_hz
        self.marks = Series(history_s)        # t_s, kind code (reward / fail / lick)
        self.events: deque = deque(maxlen=EVENTS_KEPT)
        self.event_seq = 0
        self.outcomes: list[dict] = []        # {'trial', 'outcome'}
        self.status: dict[str, Any] = {}
        self.latencies_s: deque = deque(maxlen=LATENCIES_KEPT)
        self.counts = {'rewards': 0, 'fails': 0, 'licks': 0, 'refused': 0}
        self.pose: dict[str, Any] = {}
        self.camera: dict[str, Any] = {}
        self.frame_jpeg: bytes | None = None
        self.frame_seq = 0
        self.frame_size: list[int] = []
        self.t_s = 0.0                          # the latest session time seen
        self._t0_stamp_s: float | None = None

    # -- inputs -------------------------------------------------------------------
    def session_time(self, stamp_s: float) -> float:
        """Seconds since the first frame stamp seen (the page's time axis)."""
        if self._t0_stamp_s is None:
            self._t0_stamp_s = stamp_s
        return stamp_s - self._t0_stamp_s

    def add_signal(self, stamp_s: float, value: float, valid: bool, latency_s: float | None = None) -> None:
        with self.lock:
            t = self.session_time(stamp_s)
            self.t_s = max(self.t_s, t)
            threshold = float(self.status.get('threshold', float('nan')))
            self.signal.add(t, float(value), threshold, 1.0 if valid else 0.0)
            if latency_s is not None and latency_s >= 0:
                self.latencies_s.append(latency_s)

    def add_tone(self, stamp_s: float, frequency_hz: float) -> None:
        with self.lock:
            self.tone.add(self.session_time(stamp_s), float(frequency_hz))

    def add_mark(self, stamp_s: float, kind: str) -> None:
        """kind: 'reward' (valve opened), 'fail' (fail signal), 'lick', 'refused'."""
        with self.lock:
            self.counts[{'reward': 'rewards', 'fail': 'fails', 'lick': 'licks', 'refused': 'refused'}[kind]] += 1
            self.marks.add(self.session_time(stamp_s), ('reward', 'fail', 'lick', 'refused').index(kind))

    def add_event(self, time_s: float, type_: str, subtype: str, content: str) -> None:
        with self.lock:
            self.event_seq += 1
            self.events.append((self.event_seq, round(time_s, 3), type_, subtype, content[:200]))

    def set_status(self, status: dict) -> None:
        with self.lock:
            old = self.status
            trial = int(status.get('trial', 0))
            if old and status.get('successes', 0) > old.get('successes', 0):
                self.outcomes.append({'trial': trial, 'outcome': 'success'})
            elif old and status.get('failures', 0) > old.get('failures', 0):
                self.outcomes.append({'trial': trial, 'outcome': 'fail'})
            self.status = dict(status)

    def set_pose(self, parts: list[str], x: list[float], y: list[float], likelihood: list[float]) -> None:
        with self.lock:
            self.pose = {'parts': list(parts), 'x': [float(v) for v in x], 'y': [float(v) for v in y],
                         'likelihood': [float(v) for v in likelihood]}

    def set_camera(self, frame_index: int, dropped_total: int, interval_s: float) -> None:
        with self.lock:
            self.camera = {'frame_index': int(frame_index), 'dropped_total': int(dropped_total),
                           'interval_s': float(interval_s)}

    def set_frame(self, jpeg: bytes, frame_size: list[int]) -> None:
        with self.lock:
            self.frame_jpeg = jpeg
            self.frame_size = list(frame_size)
            self.frame_seq += 1

    # -- outputs ------------------------------------------------------------------
    def latest_frame(self, after_seq: int) -> tuple[int, bytes | None]:
        with self.lock:
            if self.frame_seq > after_seq and self.frame_jpeg is not None:
                return self.frame_seq, self.frame_jpeg
            return after_seq, None

    def delta(self, cursor: dict | None) -> tuple[dict, dict]:
        """(update for one page, its new cursor); cursor None: everything kept."""
        cursor = cursor or {'signal': 0, 'tone': 0, 'marks': 0, 'events': 0, 'outcomes': 0}
        with self.lock:
            lat = list(self.latencies_s)
            update = {
                'info': self.info if cursor['signal'] == 0 else None,
                'status': self.status,
                'signal': self.signal.since(cursor['signal']),
                'tone': self.tone.since(cursor['tone']),
                'marks': self.marks.since(cursor['marks']),
                'events': [list(e[1:]) for e in self.events if e[0] > cursor['events']],
                'outcomes': self.outcomes[cursor['outcomes']:],
                'counts': dict(self.counts),
                'latency_ms': {'p50': percentile_ms(lat, 50), 'p99': percentile_ms(lat, 99), 'n': len(lat)},
                'pose': self.pose,
                'camera': self.camera,
                'frame_size': self.frame_size,
                'clock_s': self.clock() - self.started,
                't_s': self.t_s,
            }
            new = {'signal': self.signal.seq, 'tone': self.tone.seq, 'marks': self.marks.seq,
                   'events': self.event_seq, 'outcomes': len(self.outcomes)}
        if update['info'] is None:
            del update['info']
        return update, new
