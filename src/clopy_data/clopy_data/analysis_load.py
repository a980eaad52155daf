"""Session loaders for the across-session analysis (pyControl's ``Session`` /
``Experiment`` ideas): one session folder read into DataFrames, and sessions
grouped per subject with days numbered by date."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clopy_data.folder import EVENTS, FRAME_TABLE, PARAMETERS, SessionFolderError, node_parameters, read_parameters
from clopy_data.session import read_event_log, session_info
from clopy_data.tables import read_frame_table


class AnalysisError(Exception):
    """Bad input: names the file, column or option and the value."""


class Session:
    """One session folder, read like pyControl's ``Session``.

    Attributes:
        path: the folder. log: every row of ``events.tsv`` (time, type, subtype, content).
        info: ``info`` rows as {name: text} (a repeated name keeps the last).
        subject_id, paradigm, session_type: from ``info``.
        start_time, end_time: timezone-aware datetimes (None when absent).
        states: time (s), name, duration_s (until the next state or the run end).
        events: time (s), name, subtype (timer, user, api, publish, ...).
        variables: time (s), subtype (run_start, task, api, user, print, run_end), name, value.
        prints: time (s), subtype, text.  problems: warning and error rows.
        times: {state or event name: np.ndarray of times in s}.
        parameters: parameters.yaml as a dict ({} when absent).
        frames: the per-frame table (``VideoTimestamp.txt``) or None.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        events = self.path / EVENTS
        if not events.is_file():
            raise AnalysisError(f'{self.path}: no {EVENTS}; not a session folder')
        self.log = read_event_log(events)
        self.info = session_info(self.log)
        self.subject_id = self.info.get('subject_id', '')
        self.paradigm = self.info.get('paradigm', '')
        self.start_time = self._datetime('start_time')
        self.end_time = self._datetime('end_time')
        self.parameters = self._read_parameters()
        self.session_type = self.info.get('session_type') or str(
            node_parameters(self.parameters, 'task').get('v.session_type', ''))
        log = self.log
        body = log[log['type'] != 'info']
        self.run_end_s = float(body['time'].max()) if len(body) else 0.0
        run_end = log[(log['type'] == 'variable') & (log['subtype'] == 'run_end')]
        if len(run_end):
            self.run_end_s = float(run_end['time'].iloc[-1])
        st = log[log['type'] == 'state']
        times = st['time'].to_numpy(dtype=float)
        durations = np.append(np.diff(times), self.run_end_s - times[-1]) if times.size else times
        self.states = pd.DataFrame({'time': times, 'name': st['content'].to_numpy(dtype=object),
                                    'duration_s': durations})
        ev = log[log['type'] == 'event']
        self.events = pd.DataFrame({'time': ev['time'].to_numpy(dtype=float),
                                    'name': ev['content'].to_numpy(dtype=object),
                                    'subtype': ev['subtype'].to_numpy(dtype=object)})
        pr = log[log['type'] == 'print']
        self.prints = pd.DataFrame({'time': pr['time'].to_numpy(dtype=float),
                                    'subtype': pr['subtype'].to_numpy(dtype=object),
                                    'text': pr['content'].to_numpy(dtype=object)})
        self.problems = log[log['type'].isin(['warning', 'error'])].reset_index(drop=True)
        self.variables = self._variables(log[log['type'] == 'variable'])
        self.times: dict[str, np.ndarray] = {
            name: np.asarray(group['time'], dtype=float)
            for frame in (self.states, self.events) for name, group in frame.groupby('name', sort=True)}
        self.frames: pd.DataFrame | None = self._frames()

    def _frames(self) -> pd.DataFrame | None:
        """The frame table; when the recorder never wrote it (killed), made from the bag
        (salvaged first when it was never closed); None without either."""
        table = self.path / FRAME_TABLE
        if table.is_file():
            return read_frame_table(table)
        from clopy_data.bag import BagError
        from clopy_data.postprocess import frame_table_from_bag
        try:
            return frame_table_from_bag(self.path)
        except BagError as exc:
            raise AnalysisError(f'{self.path}: no {FRAME_TABLE} and the bag cannot be read: {exc}') from None

    def _datetime(self, key: str) -> datetime | None:
        text = self.info.get(key)
        if not text:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise AnalysisError(f'{self.path / EVENTS}: info {key} = {text!r} is not an ISO 8601 time') from None

    def _read_parameters(self) -> dict[str, Any]:
        try:
            return read_parameters(self.path / PARAMETERS, required=False)
        except SessionFolderError as exc:
            raise AnalysisError(str(exc)) from None

    def _variables(self, rows: pd.DataFrame) -> pd.DataFrame:
        out: list[tuple[float, str, str, Any]] = []
        for t, subtype, content in zip(rows['time'], rows['subtype'], rows['content']):
            try:
                values = json.loads(content)
            except ValueError:
                raise AnalysisError(f'{self.path / EVENTS}: variable row at {t} s: content {content[:60]!r} '
                                    'is not JSON') from None
            if not isinstance(values, dict):
                raise AnalysisError(f'{self.path / EVENTS}: variable row at {t} s: {content[:60]!r} '
                                    'is not a JSON object')
            out.extend((float(t), str(subtype), str(k), v) for k, v in values.items())
        return pd.DataFrame(out, columns=['time', 'subtype', 'name', 'value']).astype(
            {'time': float, 'subtype': object, 'name': object, 'value': object})

    # --- derived -------------------------------------------------------------------------

    def variable_values(self, at: str = 'end') -> dict[str, Any]:
        """Task variables at 'start' (run_start snapshot) or 'end' (run_end snapshot, else the
        run_start snapshot with every later change applied)."""
        v = self.variables
        start = v[v['subtype'] == 'run_start']
        values = dict(zip(start['name'], start['value']))
        if at == 'start':
            return values
        if at != 'end':
            raise ValueError(f'variable_values(at={at!r}); allowed: start, end')
        end = v[v['subtype'] == 'run_end']
        if len(end):
            return dict(zip(end['name'], end['value']))
        changes = v[~v['subtype'].isin(['run_start', 'print'])]
        values.update(zip(changes['name'], changes['value']))
        return values

    @property
    def rule(self) -> str:
        """The control-signal rule (ROI or 2-ROI rule) from parameters.yaml, '' if unknown."""
        return str(node_parameters(self.parameters, 'roi_dff').get('rule', ''))

    @property
    def summary(self) -> dict[str, Any]:
        """Totals: trials, successes, failures, rewards (valve pulses: reward == 1 frames of the
        frame table, else successes unless no_reward), success_rate = successes /
        (successes + failures), rewards_per_min over the run (s -> min), thresholds, frames."""
        start, end = self.variable_values('start'), self.variable_values('end')
        trials = int(end.get('trial_n', 0))
        successes, failures = int(end.get('successes', 0)), int(end.get('failures', 0))
        if self.frames is not None and 'reward' in self.frames:
            rewards = int((self.frames['reward'] == 1).sum())
        else:
            rewards = 0 if self.session_type == 'no_reward' else successes
        n_frames = 0 if self.frames is None else len(self.frames)
        minutes = self.run_end_s / 60.0
        done = successes + failures
        return {
            'subject_id': self.subject_id, 'paradigm': self.paradigm, 'session_type': self.session_type,
            'start_time': self.start_time.isoformat() if self.start_time else '',
            'duration_s': self.run_end_s, 'trials': trials, 'successes': successes, 'failures': failures,
            'rewards': rewards, 'success_rate': successes / done if done else float('nan'),
            'rewards_per_min': rewards / minutes if minutes > 0 else float('nan'),
            'threshold_start': start.get('threshold', float('nan')),
            'threshold_end': end.get('threshold', float('nan')), 'rule': self.rule,
            'n_frames': n_frames, 'path': str(self.path),
        }

    def __repr__(self) -> str:
        return f'Session({str(self.path)!r}, subject={self.subject_id!r}, start={self.start_time})'


def find_sessions(path: str | Path) -> list[Path]:
    """Session folders at or under ``path`` (folders holding ``events.tsv``), sorted."""
    path = Path(path)
    if (path / EVENTS).is_file():
        return [path]
    found = sorted({p.parent for p in path.rglob(EVENTS)})
    if not found:
        raise AnalysisError(f'{path}: no session folders ({EVENTS}) in it')
    return found


class Experiment:
    """Sessions grouped per subject, days numbered by start date.

    Args:
        paths: session folders or folders holding them.
        groups: {subject: group}; subjects not in it get ``default_group``.
    """

    def __init__(self, paths: Iterable[str | Path], groups: dict[str, str] | None = None,
                 default_group: str = 'all') -> None:
        folders = sorted({f for p in paths for f in find_sessions(p)})
        self.sessions = [Session(f) for f in folders]
        for s in self.sessions:
            if s.start_time is None:
                raise AnalysisError(f'{s.path / EVENTS}: no info start_time row; cannot number days')
        self.sessions.sort(key=lambda s: (s.subject_id, s.start_time))
        self.groups = dict(groups or {})
        self.default_group = default_group
        self.subjects: dict[str, list[Session]] = {}
        for s in self.sessions:
            self.subjects.setdefault(s.subject_id, []).append(s)
        self._day: dict[Path, int] = {}
        for subject_sessions in self.subjects.values():
            dates = sorted({s.start_time.date() for s in subject_sessions})
            for s in subject_sessions:
                self._day[s.path] = dates.index(s.start_time.date()) + 1

    def day(self, session: Session) -> int:
        """Day number of a session: 1 + index of its start date among its subject's dates."""
        return self._day[session.path]

    def group(self, subject: str) -> str:
        return self.groups.get(subject, self.default_group)

    def sessions_table(self) -> pd.DataFrame:
        """One row per session in the original's sessions-table columns (plus ours)."""
        rows = []
        for s in self.sessions:
            summary = s.summary
            trials = summary['trials']
            rows.append({'mouse_id': s.subject_id, 'cal_day': s.start_time.strftime('%Y%m%d%H%M%S'),
                         'day': self.day(s), 'group': self.group(s.subject_id), 'roi_rule': s.rule,
                         'session_type': s.session_type, 'trials': trials, 'rewards': summary['rewards'],
                         'performance': min(1.0, summary['rewards'] / trials) if trials else float('nan'),
                         'success_rate': summary['success_rate'], 'duration_s': summary['duration_s'],
                         'path': str(s.path)})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f'Experiment({len(self.sessions)} sessions, {len(self.subjects)} subjects)'
