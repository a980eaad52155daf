"""After a session: the per-frame table in the original CLoPy columns and the
summary row, both derived from the bag (so they can be made again from any
recording with `clopy tables SESSION`)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from clopy_data.bag import BagError, read_bag, readable_bag, typestore_with_clopy
from clopy_data.folder import SessionFolder, SessionFolderError
from clopy_data.session import append_summary_row, escape_field, read_event_log, session_info
from clopy_data.tables import ClmfFrameTableWriter, FrameTableWriter, lick_column, touches_from_changes
from clopy_data.topics import (CONTROL_SIGNAL, FRAME_INFO, LICK, POSE, REWARD, REWARD_EVENT, ROI_SIGNAL,
                               SESSION_END, SESSION_STATUS, TASK_EVENT, TONE)

#: Topics a digest reads: not the images (decoding them would be most of the time).
DIGEST_TOPICS = (CONTROL_SIGNAL, ROI_SIGNAL, POSE, TONE, REWARD, REWARD_EVENT, TASK_EVENT, FRAME_INFO,
                 SESSION_STATUS, SESSION_END, LICK)

#: the end reason of a session whose record says nothing about it (an old or cut-short recording)
UNKNOWN_END = 'unknown'


@dataclass
class FrameRow:
    time_s: float = 0.0
    value: float = 0.0
    valid: bool = False
    dff: dict = field(default_factory=dict)
    rule_value: float = float('nan')
    pose: dict = field(default_factory=dict)   # body part -> (x_px, y_px, likelihood)


@dataclass
class SessionDigest:
    """What a session did, per frame and in total, read back from its bag."""

    frames: dict[int, FrameRow]
    roi_names: list[str]
    rule: str
    tone_by_frame: dict[int, float]
    reward_by_frame: dict[int, int]        # 1 success (valve), -1 timeout (fail)
    trial_start_frames: list[int]
    rest_start_frames: list[int]
    threshold_changes: list[tuple[int, float]]
    valve_events: list[dict]
    status: dict
    dropped_frames: int
    body_parts: list[str] = field(default_factory=list)
    session_end: dict | None = None        # the first SessionEnd record: reason, node, error
    lick_changes: list[tuple[float, bool]] = field(default_factory=list)   # (stamp_s, touching), lick sensor

    @property
    def valve_openings(self) -> int:
        """Valve openings: distinct on_time of the delivered valve records, so an opening
        whose closing record never came (reward node killed mid-pulse) still counts."""
        return len({v['on_time_ns'] for v in self.valve_events if v['delivered']})

    @property
    def water_ul(self) -> float:
        return max((v['water_ul'] for v in self.valve_events), default=0.0)

    @property
    def rewards_refused(self) -> int:
        counted = max((v['rewards_refused'] for v in self.valve_events), default=0)
        refused_records = sum(1 for v in self.valve_events if not v['delivered'])
        return max(counted, refused_records, int(self.status.get('rewards_refused', 0) or 0))


def digest(session_dir: Path) -> SessionDigest:
    frames: dict[int, FrameRow] = {}
    roi_names: list[str] = []
    rule = ''
    tone, reward = {}, {}
    trials, rests, thresholds, valves = [], [], [], []
    status: dict = {}
    dropped = 0
    body_parts: list[str] = []
    ended: dict | None = None
    licks: list[tuple[float, bool]] = []
    """Read a session's bag (salvaging it first when the recorder never closed it)."""
    bag, _ = readable_bag(SessionFolder(session_dir).bag)
    for m in read_bag(bag, typestore_with_clopy(), topics=DIGEST_TOPICS):
        msg = m.msg
        if m.topic == CONTROL_SIGNAL:
            row = frames.setdefault(msg.frame_index, FrameRow())
            row.time_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            row.value, row.valid = msg.value, msg.valid
        elif m.topic == ROI_SIGNAL:
            row = frames.setdefault(msg.frame_index, FrameRow())
            roi_names = list(msg.roi_names)
            rule = msg.rule
            row.dff = dict(zip(msg.roi_names, [float(x) for x in msg.dff]))
            row.rule_value = msg.rule_value
        elif m.topic == POSE:
            row = frames.setdefault(msg.frame_index, FrameRow())
            body_parts = list(msg.body_parts)
            row.pose = {p: (float(x), float(y), float(lk)) for p, x, y, lk in
                        zip(msg.body_parts, msg.x_px, msg.y_px, msg.likelihood)}
        elif m.topic == TONE:
            tone[msg.frame_index] = msg.frequency_hz
        elif m.topic == REWARD:
            reward[msg.frame_index] = 1 if msg.output == 0 else -1
        elif m.topic == REWARD_EVENT and msg.output == 0:
            valves.append({'frame_index': msg.frame_index, 'delivered': msg.delivered,
                           'duration_s': msg.duration_s, 'note': msg.note,
                           'on_time_ns': msg.on_time.sec * 1_000_000_000 + msg.on_time.nanosec,
                           'opened': bool(getattr(msg, 'opened', False)),
                           'rewards_refused': int(getattr(msg, 'rewards_refused', 0)),
                           'water_ul': float(getattr(msg, 'water_ul', 0.0))})
        elif m.topic == SESSION_END:
            if ended is None:   # the first one is the cause
                ended = {'reason': msg.reason, 'node': msg.node, 'error': bool(msg.error)}
        elif m.topic == TASK_EVENT:
            if msg.type == 'state':
                (trials if msg.content == 'trial' else rests).append(msg.frame_index)
            elif msg.type == 'variable' and msg.subtype in ('task', 'api', 'run_start'):
                values = json.loads(msg.content)
                if 'threshold' in values:
                    thresholds.append((msg.frame_index, float(values['threshold'])))
        elif m.topic == LICK:
            licks.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, bool(msg.touching)))
        elif m.topic == FRAME_INFO:
            dropped = max(dropped, msg.dropped_total)
        elif m.topic == SESSION_STATUS:
            status = {f: getattr(msg, f) for f in ('state', 'trial', 'total_trials', 'successes', 'failures',
                                                   'threshold', 'frame_rate_hz', 'frames', 'dropped_frames',
                                                   'elapsed_s', 'session_type', 'paradigm')}
            status.update({f: getattr(msg, f, 0) for f in ('rewards_refused', 'stalled_s', 'invalid_frames')})
    return SessionDigest(frames, roi_names, rule, tone, reward, trials, rests, thresholds, valves, status,
                         dropped, body_parts, ended, sorted(licks))


def write_frame_table(d: SessionDigest, path: Path, audio_on: bool) -> int:
    """One row per frame: frame, time, <ROI>dff..., [<rule>dff], freq, rew_threshold,
    reward, trial, audio, lick. freq is 0 during rests; lick 1 on frames a touch of the
    lick spout overlaps (tables.lick_column; 0 throughout when no sensor was recorded)."""
    two_roi = len(d.roi_names) > 1
    clmf = bool(d.body_parts)
    writer = (ClmfFrameTableWriter(path, d.body_parts) if clmf
              else FrameTableWriter(path, d.roi_names, d.rule if two_roi else None))
    starts = sorted(d.trial_start_frames)
    thresholds = sorted(d.threshold_changes)
    t0 = None
    freq = 0.0
    threshold = thresholds[0][1] if thresholds else float('nan')
    ti = hi = 0
    n = 0
    order = sorted(d.frames)
    licked = dict(zip(order, lick_column([d.frames[i].time_s for i in order],
                                         touches_from_changes(d.lick_changes))))
    for index in order:
        row = d.frames[index]
        t0 = row.time_s if t0 is None else t0
        while ti < len(starts) and starts[ti] <= index:
            ti += 1
        while hi < len(thresholds) and thresholds[hi][0] <= index:
            threshold = thresholds[hi][1]
            hi += 1
        freq = d.tone_by_frame.get(index, freq)
        common = dict(frame=index, time_s=row.time_s - t0, freq_hz=freq, reward=d.reward_by_frame.get(index, 0),
                      trial=ti, audio=int(audio_on and freq > 0), lick=licked[index])
        if clmf:
            writer.add_row(speed=row.value if row.valid else float('nan'), pose=row.pose, **common)
        else:
            writer.add_row(dff=row.dff or {k: float('nan') for k in d.roi_names}, rule_value=row.rule_value,
                           threshold=threshold, **common)
        n += 1
    writer.close()
    return n


def _session_type(task: dict) -> str:
    return str(task.get('v.session_type', 'graded'))


def frame_table_from_bag(session_dir: Path):
    """The per-frame table of a session made from its bag (salvaged first when never
    closed), as :func:`clopy_data.tables.read_frame_table` returns it, without writing
    it into the session folder; None when the session has no bag folder."""
    import tempfile

    from clopy_data.tables import read_frame_table
    folder = SessionFolder(session_dir)
    if not folder.bag.is_dir():
        return None
    task = folder.node_parameters('task')
    d = digest(folder.path)
    with tempfile.TemporaryDirectory(prefix='clopy-frames-') as tmp:
        path = Path(tmp) / folder.frame_table.name
        write_frame_table(d, path, audio_on=_session_type(task) != 'no_audio')
        return read_frame_table(path)


def finish_session(session_dir: Path, summary_csv: Path | None, rerun_of: str = '',
                   end: tuple[str, bool] | None = None) -> dict:
    """Frame table + summary row for a recorded session; returns the summary. ``end``:
    (reason, error) known to the caller (`clopy run`, when the recorder died): written to
    the event log and the summary when the recording itself says nothing of the end."""
    folder = SessionFolder(session_dir)
    task = folder.node_parameters('task', required=True)
    roi = folder.node_parameters('roi_dff')
    d = digest(folder.path)
    if not d.roi_names and not d.body_parts:
        # no signal was recorded (a session that stopped during start-up): the table gets the
        # columns the session was set up with, and no rows
        pose = folder.node_parameters('pose')
        d.body_parts = [str(p) for p in pose.get('body_parts') or []]
        d.roi_names = [str(r) for r in roi.get('rois') or []]
        d.rule = str(roi.get('rule') or '')
    session_type = _session_type(task)
    # written beside, then put in place: made again over an existing table, never half written
    partial = folder.frame_table.with_name(folder.frame_table.name + '.partial')
    partial.unlink(missing_ok=True)
    n = write_frame_table(d, partial, audio_on=session_type != 'no_audio')
    os.replace(partial, folder.frame_table)
    events = read_event_log(folder.events)
    info = session_info(events)
    # the caller's end, when the recording says nothing of it, or only what the recorder saw
    # itself (stopped by a signal) where the caller knows of an error (a node failed at start-up)
    if end is not None and d.session_end is None and (
            'end_reason' not in info or (end[1] and info.get('end_error') != 'true')):
        _append_end_rows(folder.events, events, *end)
        info.update(end_reason=end[0], end_error='true' if end[1] else 'false')
    times = [r.time_s for r in d.frames.values()]
    duration_s = (max(times) - min(times)) if times else 0.0
    reason, error = end_reason(d, info)
    summary = {
        'mouse_id': info.get('subject_id', ''), 'session': folder.name, 'data_path': str(folder.path),
        'start': info.get('start_time', ''), 'end': info.get('end_time', ''), 'duration': round(duration_s, 3),
        'fps': round(n / duration_s, 3) if duration_s else 0, 'dff_history': roi.get('dff_history_s', ''),
        'n_tones': task.get('v.n_tones', 18), 'reward_threshold': task.get('v.threshold', ''),
        'rewards': d.valve_openings, 'audio': int(session_type != 'no_audio'), 'session_type': session_type,
        'paradigm': d.status.get('paradigm', ''), 'trials': d.status.get('trial', len(d.trial_start_frames)),
        'successes': d.status.get('successes', 0), 'failures': d.status.get('failures', 0),
        'final_threshold': d.status.get('threshold', ''), 'dropped_frames': d.dropped_frames,
        'rerun_of': rerun_of, 'clopy_version': '0.1.0',
        'end_reason': reason, 'end_error': error, 'stalled_s': round(float(d.status.get('stalled_s', 0.0)), 3),
        'rewards_refused': d.rewards_refused, 'valve_openings': d.valve_openings,
        'water_ul': round(d.water_ul, 3), 'invalid_frames': int(d.status.get('invalid_frames', 0)),
    }
    if summary_csv is not None:
        append_summary_row(summary_csv, summary)
        folder.mark_finished()
    return summary


def _append_end_rows(path: Path, events, reason: str, error: bool) -> None:
    """The end rows the recorder would have written, added to an event log it left
    unclosed (at the time of its last row; a torn last line is ended first)."""
    t = float(events['time'].max()) if len(events) else 0.0
    rows = [f'{t:.6f}\tinfo\tend_reason\t{escape_field(reason)}',
            f'{t:.6f}\tinfo\tend_error\t{"true" if error else "false"}']
    with open(path, 'rb+') as f:
        size = f.seek(0, os.SEEK_END)
        torn = False
        if size:
            f.seek(size - 1)
            torn = f.read(1) != b'\n'
        f.seek(0, os.SEEK_END)
        f.write((('\n' if torn else '') + '\n'.join(rows) + '\n').encode('utf-8'))


def end_reason(d: SessionDigest, info: dict) -> tuple[str, bool | str]:
    """(reason, error) of a session: the bag's first session_end record, else the event
    log's end_reason / end_error rows, else ('unknown', '')."""
    if d.session_end is not None:
        return d.session_end['reason'], d.session_end['error']
    reason = info.get('end_reason')
    if reason is None:
        return UNKNOWN_END, ''
    error = info.get('end_error', '')
    return reason, (error == 'true') if error in ('true', 'false') else ''


def read_summary_row(summary_csv: Path, session_dir: Path) -> dict | None:
    """The summary row of one session in a sessions table (the last one written for
    it), numbers as numbers; None when the table has no row for it."""
    import csv
    try:
        with open(summary_csv, newline='', encoding='utf-8') as f:
            rows = [r for r in csv.DictReader(f) if r.get('data_path') == str(session_dir)]
    except FileNotFoundError:
        return None
    if not rows:
        return None

    def number(text: str):
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text
    return {k: number(v) for k, v in rows[-1].items()}


def print_summary(s: dict) -> None:
    """One line: what the session did (trials, rewards, threshold, frames)."""
    print(f"{s['paradigm']} {s['session_type']}: {s['trials']} trials, {s['successes']} rewarded, "
          f"{s['failures']} timed out; {s['rewards']} valve pulses; threshold {s['reward_threshold']} -> "
          f"{s['final_threshold']}; {s['duration']:.1f} s at {s['fps']} fps, {s['dropped_frames']} frames dropped")
    error = ' (error)' if s.get('end_error') in (True, 1, 'true') else ''
    print(f"ended: {s.get('end_reason') or UNKNOWN_END}{error}; "
          f"{s.get('rewards_refused') or 0} rewards refused; {float(s.get('stalled_s') or 0):.1f} s stalled; "
          f"{s.get('invalid_frames') or 0} invalid frames")


# -------------------------------------------------------------------------- CLI


def add_command(sub) -> None:
    """The ``tables SESSION`` subcommand (``clopy tables``, ``python -m clopy_data tables``)."""
    p = sub.add_parser('tables', help='per-frame table and summary row from a session bag',
                       description='Make the per-frame table (VideoTimestamp.txt) and the summary of a '
                                   'recorded session again, from its bag.')
    p.add_argument('session', type=Path, help='session folder (with bag/ and parameters.yaml)')
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Make the tables again. A folder the recorder did not finish (marked UNFINISHED,
    or a bag without its per-frame table) is finished: its bag salvaged when never
    closed, the table, the summary row in the sessions table of its output root
    (unless that has one for it already), the marker removed."""
    folder = SessionFolder(Path(args.session).absolute())
    csv_path = None
    try:
        if folder.unfinished:
            csv_path = folder.default_sessions_summary
            if read_summary_row(csv_path, folder.path) is not None:
                csv_path = None
                folder.mark_finished()   # the row is there: only the table was missing
        summary = finish_session(folder.path, csv_path)
    except (BagError, SessionFolderError, OSError, ValueError) as exc:
        print(f'tables: {exc}', file=sys.stderr)
        return 1
    print_summary(summary)
    if csv_path is not None:
        print(f'summary row added to {csv_path}')
    return 0

