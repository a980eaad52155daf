"""Inputs of the threshold simulation: the recorded signal and the task settings it ran with."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from clopy_data.folder import SessionFolderError, node_parameters, read_parameters
from clopy_task.files import packaged_task as _packaged_task
from clopy_task.stall import DEFAULT_STALL_AFTER_FRAMES

DEFAULT_THRESHOLDS = '0.002:0.2:0.002'  # dF/F: 100 thresholds, the original's baseline range
DEFAULT_BASELINE_N = 2.0  # supra-threshold frames per minute (the original's rule)
FRAME_TABLE = 'VideoTimestamp.txt'
OUT_NAME = 'threshold_sim'


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
    stall_after_frames: the stall rule's limit the session ran with (``task.stall_after_frames``):
    gaps between stamps longer than this many frame periods are taken out of task time
    (clopy_task.stall), as the task node did.
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
    stall_after_frames: int = DEFAULT_STALL_AFTER_FRAMES

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
    if session_dir is None:
        return {}
    try:
        return read_parameters(session_dir / 'parameters.yaml', required=False)
    except SessionFolderError as exc:
        raise ThresholdSimError(str(exc)) from exc


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
    from clopy_data.bag import read_bag, readable_bag, typestore_with_clopy
    rows: dict[int, tuple[float, float, bool]] = {}
    try:
        bag_dir, _ = readable_bag(bag_dir)  # an unclosed bag is salvaged first
        for m in read_bag(bag_dir, typestore_with_clopy(), topics=['control_signal']):
            msg = m.msg
            rows[int(msg.frame_index)] = (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                                          float(msg.value), bool(msg.valid))
    except Exception as exc:  # noqa: BLE001 - any reader failure: say which bag and what to do
        raise ThresholdSimError(f'{bag_dir}: cannot read the bag ({type(exc).__name__}: {exc}); give the '
                                f'session\'s {FRAME_TABLE} instead (docs/recording.md)') from exc
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
    task = node_parameters(params, 'task')
    roi = node_parameters(params, 'roi_dff')
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
    stall_after_frames = task.get('stall_after_frames', DEFAULT_STALL_AFTER_FRAMES)
    if isinstance(stall_after_frames, bool) or not isinstance(stall_after_frames, int) or stall_after_frames < 1:
        raise ThresholdSimError(f'{session_dir}/parameters.yaml: task.stall_after_frames = {stall_after_frames!r}: '
                                'allowed: a whole number >= 1')
    return Recording(Path(path), col, stamps, index, values, valid, float(frame_rate_hz), variables,
                     task_path, session_dir, tuple(notes), stall_after_frames)


def synthetic_recording(values: np.ndarray, frame_rate_hz: float, *, stamps_s: np.ndarray | None = None,
                        frame_index: np.ndarray | None = None, variables: dict[str, Any] | None = None,
                        task_path: Path | None = None) -> Recording:
    """A Recording from arrays (tests, benchmarks). Stamps default to index / rate."""
    values = np.asarray(values, dtype=np.float64)
    index = np.arange(values.size, dtype=np.int64) if frame_index is None else np.asarray(frame_index, np.int64)
    stamps = index / float(frame_rate_hz) if stamps_s is None else np.asarray(stamps_s, dtype=np.float64)
    return Recording(Path('<synthetic>'), 'synthetic', stamps, index, values, np.isfinite(values),
                     float(frame_rate_hz), dict(variables or {}), task_path or packaged_task('clnf'), None)
