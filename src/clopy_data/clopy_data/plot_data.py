"""The numbers of a session's summary figure, gathered from its bag (and the
subject and start time from ``events.tsv``); :mod:`clopy_data.plots` draws them.

A bag without ``metadata.yaml`` (recorder killed) is salvaged first
(:func:`clopy_data.salvage.readable_bag`, into ``bag_salvaged/``). Session time is seconds since the task's run start.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clopy_data.bag import BagError, read_bag, readable_bag, topic_counts, typestore_with_clopy
from clopy_data.folder import EVENTS, SessionFolder
from clopy_data.session import read_event_log, session_info
from clopy_data.topics import (CONTROL_SIGNAL, FRAME_INFO, REWARD, REWARD_EVENT, ROI_SIGNAL, SESSION_STATUS, TASK_EVENT,
                               TONE, TONE_EVENT)

#: Topics read for the figure (images are skipped: the figure does not need them).
TOPICS = (FRAME_INFO, CONTROL_SIGNAL, ROI_SIGNAL, TONE, TONE_EVENT, REWARD, REWARD_EVENT,
          TASK_EVENT, SESSION_STATUS)

#: Reward-event reasons whose header stamp is not a camera frame (excluded from latency).
NOT_FRAME_DRIVEN = ('manual',)

FPS_FALLBACK = 15.0  # only to size an empty time axis


# ------------------------------------------------------------------------- data


@dataclass
class Trial:
    number: int
    start_s: float            # session time of the trial state's entry
    end_s: float              # session time it ended (or the last frame, when the recording stops)
    outcome: str              # 'success' | 'timeout' | 'unfinished'

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class FigureData:
    """The arrays and numbers the summary figure is drawn from. Times are session
    time in s (0 = run start), latencies and intervals in ms."""

    session_dir: Path
    mouse: str = ''
    paradigm: str = ''
    session_type: str = ''
    start_time: str = ''                      # ISO start time from events.tsv ('' if unknown)
    t0_s: float = float('nan')                # epoch seconds of session time 0
    salvaged: bool = False                    # the bag had no metadata.yaml and was salvaged
    # per frame (control_signal), sorted by frame index
    frame_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    t_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control: np.ndarray = field(default_factory=lambda: np.zeros(0))   # NaN where not valid
    units: str = 'dff'
    rule: str = ''
    roi_names: list[str] = field(default_factory=list)
    roi_dff: dict[str, np.ndarray] = field(default_factory=dict)       # aligned with t_s
    # threshold as a step function: value threshold_v[i] from threshold_t[i] on
    threshold_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    threshold_v: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # tone commands (what the task asked for; 0 Hz = silence)
    tone_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tone_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    trials: list[Trial] = field(default_factory=list)
    max_trial_s: float = float('nan')
    valve_t: np.ndarray = field(default_factory=lambda: np.zeros(0))   # valve openings (on time), each once
    refused_t: np.ndarray = field(default_factory=lambda: np.zeros(0))  # valve commands refused
    fail_t: np.ndarray = field(default_factory=lambda: np.zeros(0))    # fail (timeout) commands
    # camera
    frame_stamps_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # frame_info stamps, session time
    frame_interval_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dropped_frames: int = 0
    nominal_fps: float = float('nan')
    # latencies
    tone_latency_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    valve_latency_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    # -- derived numbers (the ones printed on the figure)

    @property
    def n_trials(self) -> int:
        return len(self.trials)

    @property
    def n_successes(self) -> int:
        return sum(1 for t in self.trials if t.outcome == 'success')

    @property
    def n_timeouts(self) -> int:
        return sum(1 for t in self.trials if t.outcome == 'timeout')

    @property
    def n_rewards(self) -> int:
        return len(self.valve_t)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1]) if len(self.t_s) else 0.0

    @property
    def end_s(self) -> float:
        """Right end of the time axes: the last frame or the last event, whichever is later."""
        last = [self.duration_s] + [float(a[-1]) for a in (self.threshold_t, self.tone_t) if len(a)]
        last += [t.end_s for t in self.trials[-1:]]
        return max(max(last), 1.0 / FPS_FALLBACK)

    @property
    def tone_latency_p50_p99(self) -> tuple[float, float]:
        return percentiles(self.tone_latency_ms)

    @property
    def valve_latency_p50_p99(self) -> tuple[float, float]:
        return percentiles(self.valve_latency_ms)


def percentiles(values: np.ndarray) -> tuple[float, float]:
    """(p50, p99) with numpy's default (linear) interpolation; NaNs when empty."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return float('nan'), float('nan')
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99)


def _ns(t) -> int:
    """Nanoseconds of a builtin_interfaces/Time (or of a header's stamp), exact."""
    t = getattr(t, 'stamp', t)
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def _ms_between(start, end) -> float:
    """end - start in ms, from the exact integer stamps (floats of epoch seconds
    would lose ~0.2 us)."""
    return (_ns(end) - _ns(start)) / 1e6


def _s(t) -> float:
    """Seconds of a builtin_interfaces/Time (or of a header's stamp)."""
    return _ns(t) * 1e-9


def _event_info(session_dir: Path) -> dict[str, str]:
    path = session_dir / EVENTS
    if not path.is_file():
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # a cut-short log's last line
            return session_info(read_event_log(path))
    except Exception:  # noqa: BLE001 - the title is cosmetic; the bag is what counts
        return {}


def _messages(session_dir: Path):
    """(messages, salvaged): every message of the figure's topics; a bag without
    metadata.yaml (recorder killed) is salvaged first (into bag_salvaged/)."""
    folder = SessionFolder(session_dir)
    bag = folder.bag
    if not folder.bag_closed and (not bag.is_dir() or not list(bag.glob('*.mcap'))):
        raise BagError(f'{session_dir}: no bag (expected {bag}/ with an .mcap file)')
    readable, report = readable_bag(bag)
    return _read(readable), report is not None


def _read(bag: Path) -> list:
    # read_bag with a topic list that matches no connection would read every topic
    # (rosbags treats an empty connection list as "all"), so check first.
    if not set(topic_counts(bag)) & set(TOPICS):
        return []
    return list(read_bag(bag, typestore_with_clopy(), topics=TOPICS))


def figure_data(session_dir: Path) -> FigureData:
    """Read a session's bag into the numbers the summary figure shows."""
    session_dir = Path(session_dir)
    messages, salvaged = _messages(session_dir)
    info = _event_info(session_dir)
    d = FigureData(session_dir=session_dir, salvaged=salvaged)

    frame_stamp: dict[int, int] = {}          # frame_info: index -> stamp (epoch ns)
    dropped = 0
    control: dict[int, tuple[float, float, bool]] = {}
    rois: dict[int, tuple[list, list]] = {}
    tones: list[tuple[float, float]] = []
    tone_lat, valve_lat = [], []
    valves, refused, fails = [], [], []
    openings: set[int] = set()                # on_time (ns) of the valve openings seen
    states: list[tuple[float, str]] = []
    thresholds: list[tuple[float, float]] = []
    run_start: float | None = None
    status: dict = {}
    for m in messages:
        msg = m.msg
        if m.topic == FRAME_INFO:
            frame_stamp[int(msg.frame_index)] = _ns(msg.header)
            dropped = max(dropped, int(msg.dropped_total))
        elif m.topic == CONTROL_SIGNAL:
            control[int(msg.frame_index)] = (_s(msg.header), float(msg.value), bool(msg.valid))
            d.units = msg.units or d.units
        elif m.topic == ROI_SIGNAL:
            d.roi_names, d.rule = list(msg.roi_names), msg.rule
            rois[int(msg.frame_index)] = ([float(x) for x in msg.dff], [bool(msg.valid)])
        elif m.topic == TONE:
            tones.append((_s(msg.header), float(msg.frequency_hz)))
        elif m.topic == TONE_EVENT:
            if _s(msg.header) > 0:
                tone_lat.append(_ms_between(msg.header, msg.output_time))
        elif m.topic == REWARD and msg.output == 1:
            fails.append(_s(msg.header))
        elif m.topic == REWARD_EVENT and msg.output == 0:
            if msg.delivered:
                # one opening: its opening record and its closing record share on_time
                # (a node killed mid-pulse leaves only the first); count it once
                if _ns(msg.on_time) in openings:
                    continue
                openings.add(_ns(msg.on_time))
                valves.append(_s(msg.on_time))
                if msg.reason not in NOT_FRAME_DRIVEN and _s(msg.header) > 0:
                    valve_lat.append(_ms_between(msg.header, msg.on_time))
            else:
                refused.append(_s(msg.header))
        elif m.topic == TASK_EVENT:
            t = _s(msg.header)
            if msg.type == 'state':
                states.append((t, msg.content))
            elif msg.type == 'info' and msg.subtype == 'start_time_s':
                try:
                    run_start = float(msg.content)
                except ValueError:
                    pass
            elif msg.type == 'variable' and msg.subtype not in ('get', 'print'):
                try:
                    values = json.loads(msg.content)
                except ValueError:
                    continue
                if isinstance(values, dict):
                    if 'threshold' in values:
                        thresholds.append((t, float(values['threshold'])))
                    if 'max_trial_s' in values:
                        d.max_trial_s = float(values['max_trial_s'])
        elif m.topic == SESSION_STATUS:
            status = {'paradigm': msg.paradigm, 'session_type': msg.session_type,
                      'frame_rate_hz': msg.frame_rate_hz}

    # session time 0: the task's run start, else the first frame
    first = [ns * 1e-9 for ns in frame_stamp.values()] + [c[0] for c in control.values()]
    t0 = run_start if run_start is not None else min(first, default=0.0)
    d.t0_s = t0

    d.mouse = info.get('subject_id', '') or session_dir.name.rsplit('_', 1)[0]
    d.paradigm = info.get('paradigm', '') or status.get('paradigm', '') or session_dir.parent.name
    d.session_type = info.get('session_type', '') or status.get('session_type', '')
    d.start_time = info.get('start_time', '')
    try:
        d.nominal_fps = float(info.get('frame_rate_hz', '') or status.get('frame_rate_hz') or 'nan')
    except ValueError:
        pass

    idx = sorted(control)
    d.frame_index = np.array(idx, dtype=np.int64)
    d.t_s = np.array([control[i][0] - t0 for i in idx])
    d.control = np.array([control[i][1] if control[i][2] else np.nan for i in idx])
    for k, name in enumerate(d.roi_names):
        d.roi_dff[name] = np.array([rois[i][0][k] if i in rois and len(rois[i][0]) > k and rois[i][1][0]
                                    else np.nan for i in idx])

    end_s = d.duration_s
    if thresholds:
        # keep only real changes, first value from time 0
        ts, vs = [min(0.0, thresholds[0][0] - t0)], [thresholds[0][1]]
        for t, v in thresholds[1:]:
            if v != vs[-1]:
                ts.append(t - t0)
                vs.append(v)
        d.threshold_t, d.threshold_v = np.array(ts), np.array(vs)
    tones.sort(key=lambda x: x[0])  # stable: commands of one frame keep their order
    d.tone_t = np.array([t - t0 for t, _ in tones])
    d.tone_hz = np.array([f for _, f in tones])
    d.valve_t = np.array([t - t0 for t in valves])
    d.refused_t = np.array([t - t0 for t in refused])
    d.fail_t = np.array([t - t0 for t in fails])

    # trials from the state sequence
    states.sort(key=lambda s: s[0])
    n = 0
    current: Trial | None = None
    for t, state in states:
        if current is not None:
            current.end_s = t - t0
            current.outcome = {'success_rest': 'success', 'fail_rest': 'timeout'}.get(state, 'unfinished')
            d.trials.append(current)
            current = None
        if state == 'trial':
            n += 1
            current = Trial(n, t - t0, t - t0, 'unfinished')
    if current is not None:
        current.end_s = max(end_s, current.start_s)
        d.trials.append(current)

    fi = sorted(frame_stamp)
    stamps = np.array([frame_stamp[i] for i in fi], dtype=np.int64)
    d.frame_stamps_s = stamps * 1e-9 - t0
    d.frame_interval_ms = np.diff(stamps) / 1e6 if len(stamps) > 1 else np.zeros(0)
    d.dropped_frames = dropped
    d.tone_latency_ms = np.array(tone_lat)
    d.valve_latency_ms = np.array(valve_lat)
    return d
