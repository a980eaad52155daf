"""Across-session analysis: pyControl-like loaders and the paper's learning statistics.

``clopy analyze PATH ... [--out DIR] [--group MOUSE=GROUP ...] [--split GROUP=DAY ...]
[--missing zero|drop] [--paper]``

PATH is a session folder (with ``events.tsv``), a folder holding session folders,
or a sessions table CSV with the original CLoPy columns (``clnf_sessions_df.csv``,
``clmf_sessions_df.csv``: mouse_id, cal_day, day, trials, rewards, group, and
roi_rule or control_joint). Tables are read in place.

Loaders (pyControl's ``Session`` / ``Experiment`` ideas):

* :class:`Session` reads one session folder: the event log as ``states``,
  ``events``, ``variables`` and ``prints`` DataFrames (times in s since run start),
  ``times`` (name -> entry / event times), ``info``, ``parameters``, the per-frame
  table ``frames`` (``VideoTimestamp.txt``) and ``summary`` numbers.
* :class:`Experiment` groups sessions per subject and numbers days by the start
  date (day 1 = the subject's first date; two sessions on one date share a day).

Learning statistics (the paper's, Gupta & Murphy): rewards per mouse and day (the
mean when a mouse has several sessions that day) are min-max normalised per mouse
within each phase of its group (CLNF: grp1 all days; grp2 days <= 10 and > 10, the
ROI rule change. CLMF: every group on its own; grp1 days <= 4 and >= 5, the switch
to the right paw). A mouse whose rewards do not vary within a phase normalises to
0 (the original's 0/0 became 0 through ``fillna(0)``). Then per test window:

* one-way repeated-measures ANOVA over days: mice with at least one session in the
  window, one value per mouse and day, missing days 0 (``--missing zero``, the
  original's ``fillna(0)``) or mice with a missing day left out (``--missing drop``).
  pingouin's ``rm_anova`` when installed, else the same sums of squares with scipy
  (:func:`rm_anova_scipy`); Greenhouse-Geisser corrected p alongside.
* Mann-Kendall trend test on the group's mean normalised rewards per day (as in the
  original), Kendall's tau = S / (n (n - 1) / 2).
* Spearman's rho of normalised rewards against day over all sessions in the window.
* a linear mixed model ``normalised ~ day`` with a random intercept per mouse
  (statsmodels, when installed): the slope per day.

``--paper`` adds the original analysis script's CLNF computation verbatim (pivot by
mouse, rule and labels, normalise each column, concat, melt, ``fillna(0)``; RM-ANOVA
of grp1 on days 1-9 and of grp2 on days 11-19) to compare with the published values.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from clopy.session import read_event_log, session_info
from clopy.tables import read_frame_table

EVENTS = 'events.tsv'
FRAME_TABLE = 'VideoTimestamp.txt'
PARAMETERS = 'parameters.yaml'
TABLE_COLUMNS = ('mouse_id', 'day', 'rewards', 'group')


class AnalysisError(Exception):
    """Bad input: names the file, column or option and the value."""


# ------------------------------------------------------------------------ Session


def _node(params: dict[str, Any], node: str) -> dict[str, Any]:
    section = params.get(node) or {}
    if isinstance(section, dict):
        section = section.get('ros__parameters', section)
    return section if isinstance(section, dict) else {}


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
            _node(self.parameters, 'task').get('v.session_type', ''))
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
        table = self.path / FRAME_TABLE
        self.frames: pd.DataFrame | None = read_frame_table(table) if table.is_file() else None

    def _datetime(self, key: str) -> datetime | None:
        text = self.info.get(key)
        if not text:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise AnalysisError(f'{self.path / EVENTS}: info {key} = {text!r} is not an ISO 8601 time') from None

    def _read_parameters(self) -> dict[str, Any]:
        path = self.path / PARAMETERS
        if not path.is_file():
            return {}
        try:
            params = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise AnalysisError(f'{path}: not readable YAML: {exc}') from exc
        return params if isinstance(params, dict) else {}

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
        return str(_node(self.parameters, 'roi_dff').get('rule', ''))

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


# ------------------------------------------------------------------- designs


@dataclasses.dataclass(frozen=True)
class Phase:
    """Days ``first_day``..``last_day`` (inclusive; None = open) of one group, normalised together."""

    group: str
    name: str
    first_day: int | None = None
    last_day: int | None = None

    def contains(self, day: pd.Series) -> pd.Series:
        lo = -math.inf if self.first_day is None else self.first_day
        hi = math.inf if self.last_day is None else self.last_day
        return (day >= lo) & (day <= hi)


@dataclasses.dataclass(frozen=True)
class Window:
    """A test window: days of one phase (None = the phase's own limits); label for the table."""

    group: str
    phase: str
    first_day: int | None = None
    last_day: int | None = None
    label: str = ''


@dataclasses.dataclass(frozen=True)
class Design:
    name: str
    phases: tuple[Phase, ...]
    windows: tuple[Window, ...]


CLNF_DAY_RULE_CHANGE = 10  # grp2's ROI rule changes after day 10 (clopy-original.md)
CLMF_DAY_PAW_SWITCH = 5  # grp1 controls with the right forelimb from day 5

CLNF_DESIGN = Design('clnf', (
    Phase('grp1', 'all'),
    Phase('grp2', 'before', None, CLNF_DAY_RULE_CHANGE),
    Phase('grp2', 'after', CLNF_DAY_RULE_CHANGE + 1, None),
), (
    Window('grp1', 'all', 1, 9, 'days 1-9 (the paper)'),
    Window('grp1', 'all'),
    Window('grp2', 'before'),
    Window('grp2', 'after'),
))


def clmf_design(groups: Sequence[str]) -> Design:
    phases: list[Phase] = []
    for g in sorted(groups):
        if g == 'grp1':
            phases += [Phase(g, 'left paw', None, CLMF_DAY_PAW_SWITCH - 1),
                       Phase(g, 'right paw', CLMF_DAY_PAW_SWITCH, None)]
        else:
            phases.append(Phase(g, 'all'))
    return Design('clmf', tuple(phases), tuple(Window(p.group, p.name) for p in phases))


def split_design(name: str, groups: Sequence[str], splits: dict[str, int]) -> Design:
    """Each group one phase, or two when ``splits[group]`` = the last day of its first phase."""
    phases: list[Phase] = []
    for g in sorted(groups):
        if g in splits:
            phases += [Phase(g, 'before', None, splits[g]), Phase(g, 'after', splits[g] + 1, None)]
        else:
            phases.append(Phase(g, 'all'))
    return Design(name, tuple(phases), tuple(Window(p.group, p.name) for p in phases))


def design_for_table(table: pd.DataFrame, name: str, splits: dict[str, int] | None = None) -> Design:
    """CLNF design for a table with roi_rule, CLMF with control_joint; ``splits`` override."""
    groups = sorted(table['group'].astype(str).unique())
    if splits:
        return split_design(name, groups, splits)
    if 'control_joint' in table.columns:
        return dataclasses.replace(clmf_design(groups), name=name)
    if 'roi_rule' in table.columns and set(groups) <= {'grp1', 'grp2'}:
        return dataclasses.replace(CLNF_DESIGN, name=name)
    return split_design(name, groups, {})


# ------------------------------------------------------------------ statistics


def read_sessions_table(path: str | Path) -> pd.DataFrame:
    """A sessions table CSV (the original's columns), checked; read in place."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={'mouse_id': str, 'cal_day': str, 'group': str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AnalysisError(f'{path}: not a readable sessions table: {exc}') from exc
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise AnalysisError(f'{path}: missing column(s) {missing}; a sessions table needs {list(TABLE_COLUMNS)}')
    for col in ('day', 'rewards'):
        values = pd.to_numeric(table[col], errors='coerce')
        bad = table.index[values.isna()]
        if len(bad):
            raise AnalysisError(f'{path}: column {col!r}, row {int(bad[0]) + 2}: {table.loc[bad[0], col]!r} '
                                'is not a number')
        table[col] = values
    table['day'] = table['day'].astype(int)
    return table


def daily_rewards(table: pd.DataFrame) -> pd.DataFrame:
    """Mean rewards per (group, mouse, day), with the number of sessions averaged."""
    out = (table.groupby(['group', 'mouse_id', 'day'], as_index=False)
           .agg(rewards=('rewards', 'mean'), sessions=('rewards', 'size')))
    return out


def normalise(daily: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Add ``phase`` and ``norm`` = (rewards - min) / (max - min) per mouse within its phase
    (0 when max == min). Rows in no phase of the design are dropped."""
    parts = []
    for phase in design.phases:
        rows = daily[(daily['group'] == phase.group) & phase.contains(daily['day'])].copy()
        if rows.empty:
            continue
        rows['phase'] = phase.name
        by = rows.groupby('mouse_id')['rewards']
        lo, hi = by.transform('min'), by.transform('max')
        span = hi - lo
        rows['norm'] = np.where(span > 0, (rows['rewards'] - lo) / span.where(span > 0, 1.0), 0.0)
        parts.append(rows)
    if not parts:
        return daily.iloc[0:0].assign(phase=pd.Series(dtype=object), norm=pd.Series(dtype=float))
    return pd.concat(parts, ignore_index=True)


def rm_anova_scipy(matrix: np.ndarray) -> dict[str, float]:
    """One-way repeated-measures ANOVA of a complete subjects x conditions matrix.

    Returns F, df1 = k - 1, df2 = (k - 1)(n - 1), p, ng2 (generalised eta squared,
    SS_days / SS_total), eps (Greenhouse-Geisser) and p_gg (p with df scaled by eps).
    """
    y = np.asarray(matrix, dtype=float)
    n, k = y.shape
    if n < 2 or k < 2 or not np.all(np.isfinite(y)):
        raise ValueError(f'rm_anova_scipy: need a finite matrix of >= 2 subjects x >= 2 days; got {y.shape}')
    grand = y.mean()
    ss_days = n * float(((y.mean(axis=0) - grand) ** 2).sum())
    ss_subjects = k * float(((y.mean(axis=1) - grand) ** 2).sum())
    ss_total = float(((y - grand) ** 2).sum())
    ss_error = ss_total - ss_days - ss_subjects
    from scipy import stats  # imported here: `clopy` builds its parser from this module
    df1, df2 = k - 1, (k - 1) * (n - 1)
    f_value = (ss_days / df1) / (ss_error / df2) if ss_error > 0 else math.inf
    cov = np.cov(y, rowvar=False)
    centre = np.eye(k) - 1.0 / k
    dc = centre @ cov @ centre  # double-centred covariance
    denom = (k - 1) * float((dc ** 2).sum())
    eps = float(np.trace(dc) ** 2 / denom) if denom > 0 else 1.0
    eps = min(1.0, max(eps, 1.0 / (k - 1)))
    return {'F': f_value, 'df1': float(df1), 'df2': float(df2), 'p': float(stats.f.sf(f_value, df1, df2)),
            'ng2': ss_days / ss_total if ss_total > 0 else float('nan'), 'eps': eps,
            'p_gg': float(stats.f.sf(f_value, df1 * eps, df2 * eps))}


def _pingouin() -> Any:
    try:
        import pingouin
    except ImportError:
        return None
    return pingouin


def rm_anova(matrix: pd.DataFrame) -> dict[str, Any]:
    """RM-ANOVA of a mice x days DataFrame (complete): pingouin when installed, else scipy."""
    pg = _pingouin()
    if pg is None:
        return {**rm_anova_scipy(matrix.to_numpy()), 'backend': 'scipy'}
    long = matrix.rename_axis(index='mouse_id', columns='day').stack().rename('norm').reset_index()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        res = pg.rm_anova(dv='norm', within='day', subject='mouse_id', data=long, detailed=True,
                          correction=True)
    row = res.iloc[0]
    p_col = 'p_unc' if 'p_unc' in res.columns else 'p-unc'
    gg_col = next((c for c in ('p_GG_corr', 'p-GG-corr') if c in res.columns), None)
    df2 = float(res.iloc[1]['DF'])
    return {'F': float(row['F']), 'df1': float(row['DF']), 'df2': df2, 'p': float(row[p_col]),
            'ng2': float(row.get('ng2', float('nan'))), 'eps': float(row.get('eps', float('nan'))),
            'p_gg': float(row[gg_col]) if gg_col else float('nan'),
            'backend': f'pingouin {pg.__version__}'}


def mann_kendall(values: Sequence[float]) -> dict[str, float]:
    """Mann-Kendall trend test (normal approximation, tie-corrected variance, continuity
    correction): S, z, two-sided p and Kendall's tau = S / (n (n - 1) / 2)."""
    from scipy import stats
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 3:
        return {'S': float('nan'), 'z': float('nan'), 'p': float('nan'), 'tau': float('nan'), 'n': n}
    s = float(sum(np.sign(x[j] - x[i]) for i in range(n - 1) for j in range(i + 1, n)))
    _, counts = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((counts * (counts - 1) * (2 * counts + 5)).sum())) / 18.0
    z = 0.0 if s == 0 or var <= 0 else (s - math.copysign(1.0, s)) / math.sqrt(var)
    return {'S': s, 'z': z, 'p': float(2 * stats.norm.sf(abs(z))), 'tau': s / (n * (n - 1) / 2), 'n': n}


def mixed_slope(rows: pd.DataFrame) -> dict[str, Any] | None:
    """norm ~ day with a random intercept per mouse (statsmodels MixedLM, REML): slope per day,
    its z and p. None when statsmodels is not installed."""
    try:
        import statsmodels.formula.api as smf
    except ImportError:
        return None
    data = rows[['norm', 'day', 'mouse_id']].astype({'norm': float, 'day': float, 'mouse_id': str})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fit = smf.mixedlm('norm ~ day', data, groups=data['mouse_id']).fit(reml=True)
    return {'slope': float(fit.params['day']), 'z': float(fit.tvalues['day']), 'p': float(fit.pvalues['day']),
            'converged': bool(getattr(fit, 'converged', True))}


STATS_COLUMNS = ('dataset', 'group', 'phase', 'days', 'test', 'n_mice', 'n_days', 'statistic',
                 'value', 'df1', 'df2', 'p', 'p_gg', 'effect', 'effect_value', 'backend', 'note')


def _window_rows(norm: pd.DataFrame, design: Design, w: Window) -> pd.DataFrame:
    phase = next((p for p in design.phases if p.group == w.group and p.name == w.phase), None)
    if phase is None:
        raise AnalysisError(f'design {design.name}: window {w} names no phase')
    rows = norm[(norm['group'] == w.group) & (norm['phase'] == w.phase)]
    window = Phase(w.group, w.phase, w.first_day, w.last_day)
    return rows[window.contains(rows['day'])]


def learning_stats(norm: pd.DataFrame, design: Design, missing: str = 'zero') -> pd.DataFrame:
    """The statistics table: per window, RM-ANOVA, Mann-Kendall, Spearman and mixed model."""
    from scipy import stats
    if missing not in ('zero', 'drop'):
        raise AnalysisError(f'--missing {missing!r}; allowed: zero, drop')
    out: list[dict[str, Any]] = []
    for w in design.windows:
        rows = _window_rows(norm, design, w)
        if rows.empty:
            continue
        days_text = f'{int(rows["day"].min())}-{int(rows["day"].max())}'
        base = {'dataset': design.name, 'group': w.group, 'phase': w.label or w.phase, 'days': days_text}
        wide = rows.pivot(index='mouse_id', columns='day', values='norm')
        note = ''
        if missing == 'zero':
            n_missing = int(wide.isna().sum().sum())
            wide = wide.fillna(0.0)
            note = f'{n_missing} missing mouse-days set to 0' if n_missing else ''
        else:
            dropped = int(wide.isna().any(axis=1).sum())
            wide = wide.dropna()
            note = f'{dropped} mice with missing days left out' if dropped else ''
        entry = {**base, 'test': 'rm_anova', 'n_mice': len(wide), 'n_days': wide.shape[1], 'statistic': 'F'}
        if len(wide) >= 2 and wide.shape[1] >= 2:
            r = rm_anova(wide)
            entry.update(value=r['F'], df1=r['df1'], df2=r['df2'], p=r['p'], p_gg=r['p_gg'], effect='ng2',
                         effect_value=r['ng2'], backend=r['backend'], note=note)
        else:
            entry.update(note=f'too few complete mice ({len(wide)}) or days ({wide.shape[1]})')
        out.append(entry)
        mean_by_day = rows.groupby('day')['norm'].mean().sort_index()
        mk = mann_kendall(mean_by_day.to_numpy())
        out.append({**base, 'test': 'mann_kendall (group mean)', 'n_mice': rows['mouse_id'].nunique(),
                    'n_days': int(mk['n']), 'statistic': 'z', 'value': mk['z'], 'p': mk['p'], 'effect': 'tau',
                    'effect_value': mk['tau'], 'backend': 'scipy'})
        if rows['day'].nunique() >= 2 and len(rows) >= 3:
            rho, p_rho = stats.spearmanr(rows['day'], rows['norm'])
            out.append({**base, 'test': 'spearman (sessions)', 'n_mice': rows['mouse_id'].nunique(),
                        'n_days': rows['day'].nunique(), 'statistic': 'rho', 'value': float(rho),
                        'p': float(p_rho), 'effect': 'rho', 'effect_value': float(rho), 'backend': 'scipy',
                        'note': f'{len(rows)} mouse-days'})
        if rows['mouse_id'].nunique() >= 2 and rows['day'].nunique() >= 2:
            try:
                m = mixed_slope(rows)
            except (ValueError, np.linalg.LinAlgError) as exc:
                m = {'error': str(exc)}
            entry = {**base, 'test': 'mixedlm norm~day (1|mouse)', 'n_mice': rows['mouse_id'].nunique(),
                     'n_days': rows['day'].nunique(), 'statistic': 'z'}
            if m is None:
                entry['note'] = 'statsmodels not installed'
            elif 'error' in m:
                entry['note'] = f'fit failed: {m["error"]}'
            else:
                entry.update(value=m['z'], p=m['p'], effect='slope/day', effect_value=m['slope'],
                             backend='statsmodels', note='' if m['converged'] else 'did not converge')
            out.append(entry)
    return pd.DataFrame(out, columns=list(STATS_COLUMNS))


def paper_clnf_anova(table: pd.DataFrame) -> pd.DataFrame:
    """The original analysis script's CLNF RM-ANOVAs, computed as it did (for comparison).

    Wide table day x (mouse_id, group, sex, roi_type, roi_rule, exp_label) per group; grp2
    split at day 10; each column min-max normalised; concatenated and melted (so mice with
    two rules get two rows per day, averaged by the ANOVA, and rows of the other part add
    zeros); NaN -> 0; RM-ANOVA of grp1 on days < 10 and of grp2 on days > 10.
    """
    keys = [c for c in ('mouse_id', 'group', 'sex', 'roi_type', 'roi_rule', 'exp_label') if c in table.columns]
    g1, g2 = table[table['group'] == 'grp1'], table[table['group'] == 'grp2']

    def wide(part: pd.DataFrame) -> pd.DataFrame:
        return part.pivot(index='day', columns=keys, values='rewards')

    def scale(w: pd.DataFrame) -> pd.DataFrame:
        return (w - w.min()) / (w.max() - w.min())

    w2 = wide(g2)
    parts = [scale(wide(g1)), scale(w2.loc[w2.index <= CLNF_DAY_RULE_CHANGE]),
             scale(w2.loc[w2.index > CLNF_DAY_RULE_CHANGE])]
    combined = pd.concat(parts)
    melted = []
    for column in combined.columns:
        melted.append(pd.DataFrame({'day': combined.index.to_numpy(), 'norm': combined[column].to_numpy(),
                                    'mouse_id': column[0], 'group': column[keys.index('group')]}))
    long = pd.concat(melted, ignore_index=True).fillna({'norm': 0.0})
    out = []
    for group, select, label in (('grp1', long['day'] < CLNF_DAY_RULE_CHANGE, 'days 1-9 (paper script)'),
                                 ('grp2', long['day'] > CLNF_DAY_RULE_CHANGE, 'days 11-19 (paper script)')):
        rows = long[select & (long['group'] == group)]
        matrix = rows.groupby(['mouse_id', 'day'])['norm'].mean().unstack('day')
        r = rm_anova(matrix)
        out.append({'dataset': 'paper script', 'group': group, 'phase': label,
                    'days': f'{int(matrix.columns.min())}-{int(matrix.columns.max())}', 'test': 'rm_anova',
                    'n_mice': len(matrix), 'n_days': matrix.shape[1], 'statistic': 'F', 'value': r['F'],
                    'df1': r['df1'], 'df2': r['df2'], 'p': r['p'], 'p_gg': r['p_gg'], 'effect': 'ng2',
                    'effect_value': r['ng2'], 'backend': r['backend'], 'note': 'original pipeline, quirks included'})
    return pd.DataFrame(out, columns=list(STATS_COLUMNS))


# ---------------------------------------------------------------------- figures


def _sem(x: pd.Series) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def learning_figure(path: Path, daily: pd.DataFrame, norm: pd.DataFrame, design: Design,
                    table: pd.DataFrame) -> None:
    """Per group: rewards per day per mouse (thin) and the group mean (top); normalised rewards,
    mean +- SEM per phase, with the RM-ANOVA p of each window (bottom)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    groups = sorted(norm['group'].unique()) if len(norm) else sorted(daily['group'].unique())
    fig = Figure(figsize=(4.2 * max(1, len(groups)), 7), layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, max(1, len(groups)), squeeze=False)
    for col, group in enumerate(groups):
        top, bottom = axes[0][col], axes[1][col]
        d = daily[daily['group'] == group]
        for _, m in d.groupby('mouse_id'):
            top.plot(m['day'], m['rewards'], '-', color='0.75', lw=0.8)
        mean = d.groupby('day')['rewards'].agg(['mean', _sem])
        top.errorbar(mean.index, mean['mean'], yerr=mean['_sem'], color='k', lw=2, capsize=2, label='mean +- SEM')
        top.set_title(f'{design.name} {group}: {d["mouse_id"].nunique()} mice', fontsize=9)
        top.set_xlabel('day')
        top.set_ylabel('rewards per session')
        n = norm[norm['group'] == group]
        texts = []
        for phase in [p for p in design.phases if p.group == group]:
            rows = n[n['phase'] == phase.name]
            if rows.empty:
                continue
            m = rows.groupby('day')['norm'].agg(['mean', _sem])
            bottom.errorbar(m.index, m['mean'], yerr=m['_sem'], marker='o', ms=3, capsize=2, label=phase.name)
            if phase.last_day is not None and phase.last_day < rows['day'].max() + 100:
                bottom.axvline(phase.last_day + 0.5, color='0.5', ls='--', lw=1)
        for _, r in table[(table['group'] == group) & (table['test'] == 'rm_anova')].iterrows():
            if pd.notna(r['p']):
                texts.append(f'{r["phase"]}: RM-ANOVA F={r["value"]:.2f}, p={r["p"]:.3g}')
        for ax in (top, bottom):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_ylim(-0.05, 1.05)
        bottom.set_xlabel('day')
        bottom.set_ylabel('normalised rewards (per mouse, phase)')
        bottom.legend(fontsize=7, loc='lower right')
        bottom.set_title('\n'.join(texts), fontsize=7)
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------- command


def _fmt(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ''
    return format(x, spec)


def format_stats(table: pd.DataFrame) -> str:
    head = (f'{"group":<6} {"phase":<26} {"days":<6} {"test":<28} {"mice":>4} {"days":>4} '
            f'{"stat":>10} {"df":>9} {"p":>9} {"p_GG":>9} {"effect":>16}  note')
    lines = [head]
    for _, r in table.iterrows():
        stat = f'{r["statistic"]}={_fmt(r["value"], ".3f")}' if pd.notna(r['value']) else ''
        df = f'{r["df1"]:.0f},{r["df2"]:.0f}' if pd.notna(r['df1']) else ''
        eff = f'{r["effect"]}={_fmt(r["effect_value"], ".3f")}' if pd.notna(r['effect_value']) else ''
        note = r['note'] if isinstance(r['note'], str) else ''
        lines.append(f'{r["group"]:<6} {str(r["phase"]):<26.26} {r["days"]:<6} {r["test"]:<28.28} '
                     f'{_fmt(r["n_mice"], "d"):>4} {_fmt(r["n_days"], "d"):>4} {stat:>10} {df:>9} '
                     f'{_fmt(r["p"], ".3g"):>9} {_fmt(r["p_gg"], ".3g"):>9} {eff:>16}  {note}')
    return '\n'.join(lines)


def _parse_pairs(items: Sequence[str], option: str, value_type: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key or not value:
            raise AnalysisError(f'{option} {item!r}: expected NAME=VALUE')
        try:
            out[key] = value_type(value)
        except ValueError:
            raise AnalysisError(f'{option} {item!r}: {value!r} is not a {value_type.__name__}') from None
    return out


def add_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser('analyze', help='across-day learning statistics and figures',
                              description=__doc__.split('\n\n')[0])
    p.add_argument('paths', nargs='+', type=Path, metavar='PATH',
                   help='session folder(s), a folder of sessions, or a sessions table CSV')
    p.add_argument('--out', type=Path, help='output folder (default: processed_data/analysis in the current '
                                             'folder for tables, <sessions parent>/analysis for sessions)')
    p.add_argument('--group', action='append', default=[], metavar='MOUSE=GROUP',
                   help='group of a subject (session folders; default group "all")')
    p.add_argument('--split', action='append', default=[], metavar='GROUP=DAY',
                   help='phases of a group: days <= DAY and > DAY, normalised separately')
    p.add_argument('--missing', choices=('zero', 'drop'), default='zero',
                   help='RM-ANOVA: missing mouse-days as 0 (the paper) or drop incomplete mice')
    p.add_argument('--paper', action='store_true',
                   help="CLNF tables: also the original script's RM-ANOVA, computed its way")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except AnalysisError as exc:
        print(f'clopy analyze: {exc}', file=sys.stderr)
        return 2


def analyze_table(table: pd.DataFrame, name: str, out: Path, *, splits: dict[str, int] | None = None,
                  missing: str = 'zero', paper: bool = False) -> pd.DataFrame:
    """Statistics, normalised table and figure of one sessions table; returns the statistics."""
    design = design_for_table(table, name, splits)
    daily = daily_rewards(table)
    norm = normalise(daily, design)
    result = learning_stats(norm, design, missing)
    if paper and 'roi_rule' in table.columns:
        result = pd.concat([result, paper_clnf_anova(table).assign(dataset=name)], ignore_index=True)
    norm.to_csv(out / f'{name}_normalised.csv', index=False)
    learning_figure(out / f'{name}_days.png', daily, norm, design, result)
    return result


def _run(args: argparse.Namespace) -> int:
    groups = _parse_pairs(args.group, '--group', str)
    splits = _parse_pairs(args.split, '--split', int)
    tables: list[tuple[str, pd.DataFrame]] = []
    folders: list[Path] = []
    for path in args.paths:
        if path.is_file() and path.suffix.lower() == '.csv':
            tables.append((path.stem, read_sessions_table(path)))
        elif path.is_dir():
            folders.append(path)
        else:
            raise AnalysisError(f'{path}: not a session folder, a folder of sessions or a .csv sessions table')
    if folders:
        experiment = Experiment(folders, groups)
        table = experiment.sessions_table()
        print(f'{experiment}: ' + ', '.join(f'{s} ({len(v)} sessions)' for s, v in experiment.subjects.items()))
        tables.append(('sessions', table))
    out = args.out
    if out is None:
        out = (folders[0].resolve().parent / 'analysis') if folders and not tables[:-1] \
            else Path.cwd() / 'processed_data' / 'analysis'
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name, table in tables:
        if name == 'sessions':
            table.to_csv(out / 'sessions_table.csv', index=False)
        result = analyze_table(table, name, out, splits=splits, missing=args.missing, paper=args.paper)
        print(f'\n{name}: {len(table)} sessions, {table["mouse_id"].nunique()} mice, '
              f'groups {", ".join(sorted(table["group"].astype(str).unique()))}')
        print(format_stats(result))
        results.append(result)
    stats_table = pd.concat(results, ignore_index=True)
    stats_table.to_csv(out / 'learning_stats.csv', index=False)
    print(f'\nwrote {out / "learning_stats.csv"} and ' + ', '.join(f'{n}_days.png' for n, _ in tables)
          + f' in {out}')
    return 0
