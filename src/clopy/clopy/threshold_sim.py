"""Offline threshold simulation: what a session would have given at other thresholds.

``clopy threshold SESSION_OR_BAG_OR_TABLE [--thresholds LO:HI:STEP] [--target-rate R]
[--adaptive on|off] [--baseline-n N] [--out DIR]``

The recorded control signal (the ``control_signal`` topic of the session's bag, or
the rule / ROI dF/F column of a ``VideoTimestamp.txt`` table, ours or the original
CLoPy's) is replayed through the task logic once per threshold, with the session's
own task variables (``parameters.yaml``: rests, trial limit, reward delay,
``total_trials``, adaptive rule, ``session_type``). Frame stamps come from the
recording; the run starts at the first frame's stamp, as the task node does.

The task logic is always the session's own task file run by the task engine
(:class:`clopy_task.engine.TaskEngine`), once per threshold (in worker processes when
there are several CPU cores), with ``run_signal``: the engine skips the frames where
nothing can happen (no timer due, no 'frame' event wanted, no armed signal watch true)
and finds the next watched crossing with numpy. The results are identical to feeding
every frame (``--exact`` does that; the tests compare both). A task that takes 'frame'
events in every state (e.g. CLMF's stillness tracking) or in the current one (CLNF's
random_reward trials) is run frame by frame there. Results come from the task's
``status_variables`` (trial, successes, failures, threshold).

Per threshold: trials, successes, failures, rewards (valve pulses), success rate
= successes / (successes + failures) (a trial cut by the end of the data counts
in neither), rewards per minute of simulated session time (run start to the end
of the task or of the data), and the supra-threshold frame rate of the signal.

Baseline (the original's offline rule): the first threshold of the grid, in
ascending order, at which the signal has at most N frames per minute strictly
above it (N = ``--baseline-n``, default 2). All frames count; the original
applied it to a spontaneous (no-feedback) recording. Minutes of signal = (last
stamp - first stamp + median frame interval) / 60.

Recommendation (``--target-rate R``): the threshold whose rewards per minute is
closest to R; ties go to the higher threshold.

Units: times in s, rates per minute, thresholds in the control signal's units
(dF/F for CLNF).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from clopy_task.engine import TaskEngine, TaskError
from clopy_task.files import packaged_task as _packaged_task

DEFAULT_THRESHOLDS = '0.002:0.2:0.002'  # dF/F: 100 thresholds, the original's baseline range
DEFAULT_BASELINE_N = 2.0  # supra-threshold frames per minute (the original's rule)
FRAME_TABLE = 'VideoTimestamp.txt'
OUT_NAME = 'threshold_sim'
STATUS_NEEDED = ('trial', 'successes', 'failures', 'threshold')  # task status_variables used


class ThresholdSimError(Exception):
    """Bad input: names the file, key or option and the value."""


# ------------------------------------------------------------------------ inputs


@dataclasses.dataclass(frozen=True)
class Recording:
    """A recorded control signal and the task settings it ran with.

    stamps_s: frame stamps in s (camera clock or table time), in frame order.
    frame_index: frame numbers (int64). values: the control signal (NaN = invalid).
    valid: False for frames the task saw as invalid. frame_rate_hz: nominal rate (Hz).
    variables: task variable overrides of the session (parameters.yaml ``task: v.*``).
    task_path: the task file that ran (archived copy) or the packaged clnf.py.
    """

    source: Path
    column: str
    stamps_s: np.ndarray
    frame_index: np.ndarray
    values: np.ndarray
    valid: np.ndarray
    frame_rate_hz: float
    variables: dict[str, Any]
    task_path: Path
    session_dir: Path | None
    notes: tuple[str, ...] = ()

    @property
    def minutes(self) -> float:
        """Length of the signal in min: stamp span plus one median frame interval."""
        return signal_minutes(self.stamps_s)


def signal_minutes(stamps_s: np.ndarray) -> float:
    """(last - first stamp + median frame interval) / 60, in min."""
    t = np.asarray(stamps_s, dtype=np.float64)
    if t.size < 2:
        raise ThresholdSimError(f'a signal of {t.size} frame(s) has no duration; need at least 2 frames')
    dt = float(np.median(np.diff(t)))
    return float(t[-1] - t[0] + max(dt, 0.0)) / 60.0


def packaged_task(name: str = 'clnf') -> Path:
    """The packaged task file ``name`` (clopy_task/tasks)."""
    try:
        return _packaged_task(name)
    except FileNotFoundError as exc:
        raise ThresholdSimError(str(exc)) from None


def _load_parameters(session_dir: Path | None) -> dict[str, Any]:
    if session_dir is None or not (session_dir / 'parameters.yaml').is_file():
        return {}
    path = session_dir / 'parameters.yaml'
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ThresholdSimError(f'{path}: not readable YAML: {exc}') from exc
    if not isinstance(params, dict):
        raise ThresholdSimError(f'{path}: top level is {type(params).__name__}; expected a mapping')
    return params


def _node_params(params: dict[str, Any], node: str) -> dict[str, Any]:
    section = params.get(node) or {}
    section = section.get('ros__parameters', section) if isinstance(section, dict) else {}
    return section if isinstance(section, dict) else {}


def _task_file_for(session_dir: Path | None, task: dict[str, Any]) -> Path:
    name = str(task.get('task_file', 'clnf'))
    if session_dir is not None:
        base = Path(name).name
        for candidate in (session_dir / base, session_dir / f'{base}.py'):
            if candidate.is_file():
                return candidate
    if Path(name).is_file():
        return Path(name)
    return packaged_task(Path(name).stem)


def _classify(path: Path) -> tuple[str, Path, Path | None]:
    """('bag' | 'table', file or bag folder, session folder or None)."""
    path = Path(path)
    if not path.exists():
        raise ThresholdSimError(f'{path}: no such session folder, bag or table')
    if path.is_dir():
        if (path / 'metadata.yaml').is_file() or any(path.glob('*.mcap')):
            parent = path.parent if (path.parent / 'parameters.yaml').is_file() else None
            return 'bag', path, parent
        if (path / 'bag').is_dir():
            return 'bag', path / 'bag', path
        if (path / FRAME_TABLE).is_file():
            return 'table', path / FRAME_TABLE, path
        raise ThresholdSimError(f'{path}: a folder without bag/ or {FRAME_TABLE}; '
                                'give a session folder, a bag folder or a frame table')
    parent = path.parent if (path.parent / 'parameters.yaml').is_file() else None
    return 'table', path, parent


def _signal_from_bag(bag_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stamps, frame indices, values and validity of the ``control_signal`` topic.

    The same fields ``clopy_data.postprocess.digest`` takes from the bag, read from that
    one topic only (a bag with camera images is mostly images).
    """
    from clopy_data.bag import read_bag, typestore_with_clopy
    rows: dict[int, tuple[float, float, bool]] = {}
    try:
        for m in read_bag(bag_dir, typestore_with_clopy(), topics=['control_signal']):
            msg = m.msg
            rows[int(msg.frame_index)] = (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                                          float(msg.value), bool(msg.valid))
    except Exception as exc:  # noqa: BLE001 - any reader failure: say which bag and what to do
        raise ThresholdSimError(f'{bag_dir}: cannot read the bag ({type(exc).__name__}: {exc}); salvage it '
                                f'(docs/recording.md) or give the session\'s {FRAME_TABLE}') from exc
    if not rows:
        raise ThresholdSimError(f'{bag_dir}: no control_signal messages in the bag')
    index = np.array(sorted(rows), dtype=np.int64)
    stamps = np.array([rows[i][0] for i in index], dtype=np.float64)
    values = np.array([rows[i][1] for i in index], dtype=np.float64)
    valid = np.array([rows[i][2] for i in index], dtype=bool)
    return stamps, index, values, valid


def _pick_column(path: Path, columns: Sequence[str], wanted: str | None, rule: str | None) -> str:
    dff = [c for c in columns if c.endswith('dff')]
    if wanted is not None:
        if wanted not in columns:
            raise ThresholdSimError(f'{path}: --column {wanted!r} is not a column; columns: {list(columns)}')
        return wanted
    if rule and f'{rule}dff' in columns:
        return f'{rule}dff'
    if 'cj_speed' in columns:
        return 'cj_speed'
    if len(dff) == 1:
        return dff[0]
    rules = [c for c in dff if any(op in c[:-3] for op in '+-*/%')]
    if len(rules) == 1:
        return rules[0]
    raise ThresholdSimError(f'{path}: cannot tell which column is the control signal among {dff}; '
                            'name it with --column')


def _signal_from_table(path: Path, column: str | None, rule: str | None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    from clopy_data.tables import read_frame_table
    try:
        table = read_frame_table(path)
    except ValueError as exc:
        raise ThresholdSimError(str(exc)) from exc
    for needed in ('frame', 'time'):
        if needed not in table.columns:
            raise ThresholdSimError(f'{path}: no {needed!r} column; columns: {list(table.columns)}')
    col = _pick_column(path, list(table.columns), column, rule)
    table = table.sort_values('frame', kind='stable')
    values = table[col].to_numpy(dtype=np.float64)
    stamps = table['time'].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(stamps)):
        raise ThresholdSimError(f'{path}: the time column has non-finite values')
    return stamps, table['frame'].to_numpy(dtype=np.int64), values, np.isfinite(values), col


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def load_recording(path: Path, *, column: str | None = None, frame_rate_hz: float | None = None,
                   sets: Sequence[str] = ()) -> Recording:
    """Read the signal and the task settings of a session folder, bag folder or frame table.

    ``sets``: ``NAME=VALUE`` task variable overrides applied after parameters.yaml.
    """
    kind, where, session_dir = _classify(Path(path))
    params = _load_parameters(session_dir)
    task = _node_params(params, 'task')
    roi = _node_params(params, 'roi_dff')
    notes: list[str] = []
    if kind == 'bag':
        stamps, index, values, valid = _signal_from_bag(where)
        col = 'control_signal'
    else:
        stamps, index, values, valid, col = _signal_from_table(where, column, roi.get('rule'))
    if stamps.size < 2:
        raise ThresholdSimError(f'{where}: {stamps.size} frame(s); need at least 2')
    variables = {k[2:]: v for k, v in task.items() if isinstance(k, str) and k.startswith('v.')}
    for item in sets:
        name, sep, text = item.partition('=')
        name = name.strip().removeprefix('task.').removeprefix('v.')
        if not sep or not name:
            raise ThresholdSimError(f'--set {item!r}: expected NAME=VALUE, e.g. max_trial_s=20')
        variables[name] = _parse_value(text)
    if frame_rate_hz is None:
        frame_rate_hz = task.get('frame_rate_hz')
        if frame_rate_hz is None:
            dt = float(np.median(np.diff(stamps)))
            if not dt > 0:
                raise ThresholdSimError(f'{where}: median frame interval {dt} s; cannot estimate the '
                                        'frame rate, give --frame-rate')
            frame_rate_hz = round(1.0 / dt, 3)
            notes.append(f'frame rate {frame_rate_hz} Hz estimated from the stamps (no parameters.yaml)')
    if not (isinstance(frame_rate_hz, (int, float)) and math.isfinite(frame_rate_hz) and frame_rate_hz > 0):
        raise ThresholdSimError(f'frame_rate_hz={frame_rate_hz!r}; allowed: a number > 0 (Hz)')
    task_path = _task_file_for(session_dir, task)
    if session_dir is None:
        notes.append(f'no parameters.yaml next to {where}: task variables are the defaults of '
                     f'{task_path.name} and --set')
    return Recording(Path(path), col, stamps, index, values, valid, float(frame_rate_hz), variables,
                     task_path, session_dir, tuple(notes))


def synthetic_recording(values: np.ndarray, frame_rate_hz: float, *, stamps_s: np.ndarray | None = None,
                        frame_index: np.ndarray | None = None, variables: dict[str, Any] | None = None,
                        task_path: Path | None = None) -> Recording:
    """A Recording from arrays (tests, benchmarks). Stamps default to index / rate."""
    values = np.asarray(values, dtype=np.float64)
    index = np.arange(values.size, dtype=np.int64) if frame_index is None else np.asarray(frame_index, np.int64)
    stamps = index / float(frame_rate_hz) if stamps_s is None else np.asarray(stamps_s, dtype=np.float64)
    return Recording(Path('<synthetic>'), 'synthetic', stamps, index, values, np.isfinite(values),
                     float(frame_rate_hz), dict(variables or {}), task_path or packaged_task('clnf'), None)


# ---------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """One trial: number, start and end in s of run time, 'success' | 'timeout' | 'incomplete'
    (cut by the end of the data; end_s is then the end of the run), frame seen last at the end."""

    trial: int
    start_s: float
    end_s: float
    outcome: str
    frame_index: int


@dataclasses.dataclass
class SimResult:
    """Outcome of one simulated session at one starting threshold."""

    threshold: float
    trials: int
    successes: int
    failures: int
    rewards: int  # valve pulses (0 in no_reward sessions)
    duration_s: float  # run start to the end of the task or of the data
    final_threshold: float
    mode: str  # 'fast' | 'engine'
    outcomes: list[TrialOutcome] = dataclasses.field(default_factory=list)
    threshold_changes: list[tuple[float, float]] = dataclasses.field(default_factory=list)  # (s, value)

    @property
    def success_rate(self) -> float:
        done = self.successes + self.failures
        return self.successes / done if done else float('nan')

    @property
    def rewards_per_min(self) -> float:
        return self.rewards / (self.duration_s / 60.0) if self.duration_s > 0 else float('nan')


# ------------------------------------------------------------------ simulation


class _CountingOutputs:
    """Outputs that count reward and fail pulses and ignore tones."""

    def __init__(self) -> None:
        self.rewards = 0
        self.fails = 0

    def reward(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        self.rewards += 1

    def fail_signal(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        self.fails += 1

    def tone(self, t_s: float, frame_index: int, frequency_hz: float) -> None:
        pass


def _variables_for(rec: Recording, threshold: float, adaptive: bool | None) -> dict[str, Any]:
    variables = dict(rec.variables)
    variables['threshold'] = float(threshold)
    if adaptive is not None:
        variables['adaptive_threshold'] = bool(adaptive)
    return variables


class _Outcomes:
    """Trials, outcomes and threshold changes from the task's records: the variables its
    status_variables name for trial, successes, failures and threshold."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.outcomes: list[TrialOutcome] = []
        self.changes: list[tuple[float, float]] = []
        self.current: tuple[int, float] | None = None  # (trial, start_s) of the open trial

    def __call__(self, record: Any) -> None:
        if record.type != 'variable' or record.subtype != 'task':
            return
        changed = json.loads(record.content)
        names = self.names
        for key, outcome in (('successes', 'success'), ('failures', 'timeout')):
            if names[key] in changed and self.current is not None:
                trial, start_s = self.current
                self.outcomes.append(TrialOutcome(trial, start_s, record.time_s, outcome,
                                                  record.frame_index))
                self.current = None
        if names['trial'] in changed:
            self.current = (int(changed[names['trial']]), record.time_s)
        if names['threshold'] in changed:
            self.changes.append((record.time_s, float(changed[names['threshold']])))


def _status_names(engine: TaskEngine) -> dict[str, str]:
    names = engine.task.status_variables
    missing = [key for key in STATUS_NEEDED if names.get(key) not in engine.variables]
    if missing:
        raise ThresholdSimError(f'{engine.task_path}: status_variables gives no task variable for '
                                f'{missing}; the simulation needs {list(STATUS_NEEDED)} '
                                "(e.g. status_variables = clopy_task.library.STATUS_VARIABLES)")
    return names


def simulate_engine(rec: Recording, threshold: float, adaptive: bool | None = None,
                    exact: bool = True) -> SimResult:
    """Run the task file in the engine over the recording at one starting threshold.

    exact=False: ``run_signal`` skips frames where nothing can happen ('fast');
    exact=True: every frame goes through ``process_frame`` ('engine'). Same results.
    """
    outputs = _CountingOutputs()
    sink = _Outcomes({})
    try:
        engine = TaskEngine(rec.task_path, _variables_for(rec, threshold, adaptive),
                            frame_rate_hz=rec.frame_rate_hz, outputs=outputs, sink=sink)
        sink.names = _status_names(engine)
        engine.start(float(rec.stamps_s[0]))
        engine.run_signal(rec.stamps_s, rec.values, rec.valid, rec.frame_index, fast=not exact)
        engine.stop(float(rec.stamps_s[-1]))
    except TaskError as exc:
        raise ThresholdSimError(f'threshold {threshold}: {exc}') from exc
    status = engine.status()
    if sink.current is not None:
        sink.outcomes.append(TrialOutcome(sink.current[0], sink.current[1], engine.time_s,
                                          'incomplete', -1))
    return SimResult(float(threshold), int(status['trial']), int(status['successes']),
                     int(status['failures']), outputs.rewards, engine.time_s,
                     float(status['threshold']), 'engine' if exact else 'fast', sink.outcomes,
                     sink.changes)


_WORKER: dict[str, Any] = {}


def _worker_init(rec: Recording, adaptive: bool | None, exact: bool) -> None:
    _WORKER.update(rec=rec, adaptive=adaptive, exact=exact)


def _worker_run(threshold: float) -> SimResult:
    return simulate_engine(_WORKER['rec'], threshold, _WORKER['adaptive'], _WORKER['exact'])


def simulate_engine_many(rec: Recording, thresholds: Sequence[float], adaptive: bool | None = None,
                         jobs: int | None = None, exact: bool = True) -> list[SimResult]:
    """simulate_engine for each threshold, in ``jobs`` worker processes (default: CPU count)."""
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if jobs <= 1 or len(thresholds) <= 1:
        return [simulate_engine(rec, t, adaptive, exact) for t in thresholds]
    # fork: the workers inherit the recording; 'spawn' would re-run the `clopy` script (no main guard)
    with ProcessPoolExecutor(max_workers=min(jobs, len(thresholds)), mp_context=get_context('fork'),
                             initializer=_worker_init, initargs=(rec, adaptive, exact)) as pool:
        return list(pool.map(_worker_run, thresholds, chunksize=max(1, len(thresholds) // (4 * jobs))))


def _probe(rec: Recording, threshold: float, adaptive: bool | None) -> dict[str, Any]:
    """The task's variables for this threshold, checked by the task itself (run_start)."""
    try:
        engine = TaskEngine(rec.task_path, _variables_for(rec, threshold, adaptive),
                            frame_rate_hz=rec.frame_rate_hz, outputs=_CountingOutputs(), sink=lambda r: None)
        engine.start(0.0)
    except TaskError as exc:
        raise ThresholdSimError(f'threshold {threshold}: {exc}') from exc
    return engine.variables


def simulate(rec: Recording, thresholds: Sequence[float], *, adaptive: bool | None = None,
             exact: bool = False, jobs: int | None = None) -> tuple[list[SimResult], str]:
    """Simulate every threshold; returns the results and the mode used with its reason."""
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ThresholdSimError('no thresholds to simulate')
    for t in thresholds:
        _probe(rec, t, adaptive)
    results = simulate_engine_many(rec, thresholds, adaptive, jobs, exact)
    if exact:
        return results, 'engine: asked for (--exact), every frame through the task engine'
    return results, (f'fast: {rec.task_path.name} in the task engine, frames where nothing can '
                     'happen skipped')


# --------------------------------------------------------- baseline, recommendation


def parse_grid(text: str) -> list[float]:
    """``LO:HI:STEP`` -> [LO, LO+STEP, ..., <= HI] (HI included), rounded to 12 decimals."""
    parts = text.split(':')
    try:
        lo, hi, step = (float(p) for p in parts)
    except ValueError:
        raise ThresholdSimError(f'--thresholds {text!r}: expected LO:HI:STEP, e.g. {DEFAULT_THRESHOLDS}') from None
    if not all(math.isfinite(x) for x in (lo, hi, step)) or step <= 0 or hi < lo:
        raise ThresholdSimError(f'--thresholds {text!r}: need finite LO <= HI and STEP > 0')
    count = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if count > 100_000:
        raise ThresholdSimError(f'--thresholds {text!r}: {count} thresholds; at most 100000')
    return [round(lo + k * step, 12) for k in range(count)]


def supra_per_min(rec: Recording, thresholds: Sequence[float]) -> np.ndarray:
    """Frames with the signal strictly above each threshold, per minute of signal."""
    x = np.sort(rec.values[rec.valid & np.isfinite(rec.values)])
    above = x.size - np.searchsorted(x, np.asarray(thresholds, dtype=np.float64), side='right')
    return above / rec.minutes


def baseline_threshold(thresholds: Sequence[float], per_min: Sequence[float], n_per_min: float) -> float | None:
    """First threshold (ascending) with at most ``n_per_min`` supra-threshold frames per minute."""
    for thr, rate in sorted(zip(thresholds, per_min)):
        if rate <= n_per_min:
            return thr
    return None


def recommend(results: Sequence[SimResult], target_per_min: float) -> SimResult | None:
    """The result whose rewards/min is closest to the target; ties go to the higher threshold."""
    finite = [r for r in results if math.isfinite(r.rewards_per_min)]
    if not finite:
        return None
    return min(finite, key=lambda r: (abs(r.rewards_per_min - target_per_min), -r.threshold))


# -------------------------------------------------------------------- outputs

CSV_COLUMNS = ('threshold', 'trials', 'successes', 'failures', 'rewards', 'success_rate',
               'rewards_per_min', 'duration_s', 'final_threshold', 'supra_frames_per_min', 'mode')


def _row(r: SimResult, supra: float) -> dict[str, Any]:
    return {'threshold': r.threshold, 'trials': r.trials, 'successes': r.successes,
            'failures': r.failures, 'rewards': r.rewards, 'success_rate': r.success_rate,
            'rewards_per_min': r.rewards_per_min, 'duration_s': r.duration_s,
            'final_threshold': r.final_threshold, 'supra_frames_per_min': supra, 'mode': r.mode}


def write_csv(path: Path, results: Sequence[SimResult], supra: Sequence[float]) -> None:
    with Path(path).open('w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator='\n')
        w.writeheader()
        for r, s in zip(results, supra):
            w.writerow(_row(r, float(s)))


def format_table(results: Sequence[SimResult], supra: Sequence[float], marks: dict[float, str]) -> str:
    head = (f'{"threshold":>10} {"trials":>6} {"success":>7} {"fail":>5} {"rewards":>7} '
            f'{"succ.rate":>9} {"rew/min":>8} {"minutes":>7} {"final thr":>9} {"supra/min":>9}')
    lines = [head]
    for r, s in zip(results, supra):
        lines.append(f'{r.threshold:>10.4g} {r.trials:>6d} {r.successes:>7d} {r.failures:>5d} '
                     f'{r.rewards:>7d} {r.success_rate:>9.3f} {r.rewards_per_min:>8.3f} '
                     f'{r.duration_s / 60:>7.2f} {r.final_threshold:>9.4g} {float(s):>9.2f}'
                     + (f'  <- {marks[r.threshold]}' if r.threshold in marks else ''))
    return '\n'.join(lines)


def write_plot(path: Path, results: Sequence[SimResult], title: str, *, baseline: float | None,
               recommended: SimResult | None, target: float | None) -> None:
    """rewards/min (left axis) and success rate (right axis) against the threshold."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 4.5), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    thr = [r.threshold for r in results]
    ax.plot(thr, [r.rewards_per_min for r in results], 'o-', ms=3, color='tab:blue', label='rewards/min')
    ax.set_xlabel('starting threshold (signal units)')
    ax.set_ylabel('rewards per minute', color='tab:blue')
    ax2 = ax.twinx()
    ax2.plot(thr, [r.success_rate for r in results], 's-', ms=3, color='tab:orange', label='success rate')
    ax2.set_ylabel('success rate', color='tab:orange')
    ax2.set_ylim(-0.02, 1.02)
    if target is not None:
        ax.axhline(target, color='tab:blue', ls=':', lw=1, label=f'target {target:g}/min')
    if recommended is not None:
        ax.axvline(recommended.threshold, color='tab:green', lw=1.5,
                   label=f'recommended {recommended.threshold:g}')
    if baseline is not None:
        ax.axvline(baseline, color='tab:red', ls='--', lw=1.5, label=f'baseline {baseline:g}')
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc='upper right', fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=120)


# ------------------------------------------------------------------------ command


def add_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser('threshold', help='offline threshold simulation over a recorded signal',
                              description=__doc__.split('\n\n')[0])
    p.add_argument('input', type=Path, metavar='SESSION_OR_BAG_OR_TABLE')
    p.add_argument('--thresholds', default=DEFAULT_THRESHOLDS, metavar='LO:HI:STEP',
                   help=f'starting thresholds, HI included (default {DEFAULT_THRESHOLDS})')
    p.add_argument('--target-rate', type=float, metavar='R', help='recommend the threshold closest to R rewards/min')
    p.add_argument('--adaptive', choices=('on', 'off'), help='adaptive threshold rule (default: as in the session)')
    p.add_argument('--baseline-n', type=float, default=DEFAULT_BASELINE_N, metavar='N',
                   help='baseline rule: at most N supra-threshold frames per minute (default 2)')
    p.add_argument('--out', type=Path, help='output folder (default: SESSION/threshold_sim/)')
    p.add_argument('--exact', action='store_true', help='run the task engine for every threshold')
    p.add_argument('--jobs', type=int, help='worker processes for the engine (default: CPU count)')
    p.add_argument('--column', help='frame-table column holding the control signal')
    p.add_argument('--frame-rate', type=float, metavar='HZ', help='nominal frame rate (default: parameters.yaml)')
    p.add_argument('--set', dest='sets', action='append', default=[], metavar='NAME=VALUE',
                   help='task variable override, e.g. max_trial_s=20 (repeatable)')
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ThresholdSimError as exc:
        print(f'clopy threshold: {exc}', file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.baseline_n < 0 or not math.isfinite(args.baseline_n):
        raise ThresholdSimError(f'--baseline-n {args.baseline_n}: allowed: a number >= 0 (frames/min)')
    if args.target_rate is not None and not (math.isfinite(args.target_rate) and args.target_rate >= 0):
        raise ThresholdSimError(f'--target-rate {args.target_rate}: allowed: a number >= 0 (rewards/min)')
    if args.jobs is not None and args.jobs < 1:
        raise ThresholdSimError(f'--jobs {args.jobs}: allowed: an integer >= 1')
    thresholds = parse_grid(args.thresholds)
    rec = load_recording(args.input, column=args.column, frame_rate_hz=args.frame_rate, sets=args.sets)
    adaptive = None if args.adaptive is None else args.adaptive == 'on'
    results, mode = simulate(rec, thresholds, adaptive=adaptive, exact=args.exact, jobs=args.jobs)
    supra = supra_per_min(rec, thresholds)
    base = baseline_threshold(thresholds, supra, args.baseline_n)
    best = recommend(results, args.target_rate) if args.target_rate is not None else None
    out = args.out
    if out is None:
        out = (rec.session_dir if rec.session_dir is not None else Path(args.input).resolve().parent) / OUT_NAME
    out.mkdir(parents=True, exist_ok=True)
    probe = _probe(rec, thresholds[0], adaptive)
    print(f'{rec.source}: {rec.stamps_s.size} frames of {rec.column}, {rec.minutes:.2f} min at '
          f'{rec.frame_rate_hz:g} Hz; task {rec.task_path} ({mode})')
    keys = ('session_type', 'initial_rest_s', 'max_trial_s', 'success_rest_s', 'fail_rest_s', 'total_trials',
            'reward_delay_s', 'adaptive_threshold', 'threshold_step', 'threshold_floor', 'adapt_window_s')
    print('task variables: ' + ', '.join(f'{k}={probe[k]}' for k in keys if k in probe))
    for note in rec.notes:
        print(f'note: {note}')
    if probe.get('session_type') == 'no_reward':
        print('note: no_reward session: no valve pulses, so rewards are 0; '
              '--set session_type=graded simulates rewarded sessions')
    marks: dict[float, str] = {}
    if base is not None:
        marks[base] = f'baseline (<= {args.baseline_n:g} supra-threshold frames/min)'
    if best is not None:
        marks[best.threshold] = (marks.get(best.threshold, '') + ('; ' if best.threshold in marks else '')
                                 + f'recommended for {args.target_rate:g} rewards/min')
    print(format_table(results, supra, marks))
    if base is None:
        print(f'baseline: no threshold up to {thresholds[-1]:g} has <= {args.baseline_n:g} '
              'supra-threshold frames/min')
    else:
        print(f'baseline threshold: {base:g} (first with <= {args.baseline_n:g} supra-threshold frames/min)')
    if best is not None:
        print(f'recommended threshold: {best.threshold:g} ({best.rewards_per_min:.3f} rewards/min, '
              f'success rate {best.success_rate:.3f}; target {args.target_rate:g}/min)')
    csv_path, png_path = out / f'{OUT_NAME}.csv', out / f'{OUT_NAME}.png'
    write_csv(csv_path, results, supra)
    title = f'{rec.source} ({rec.column}); {mode.split(":")[0]} simulation of {len(thresholds)} thresholds'
    write_plot(png_path, results, title, baseline=base, recommended=best, target=args.target_rate)
    print(f'wrote {csv_path} and {png_path} in {time.perf_counter() - started:.2f} s')
    return 0
