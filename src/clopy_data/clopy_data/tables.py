"""Per-frame tables in the original CLoPy's ``VideoTimestamp.txt`` layout (tab separated).

CLNF columns: ``frame, time, <ROI>dff..., [<rule>dff], freq, rew_threshold,
reward, trial, audio, lick`` -- every ROI, then the rule column for a 2-ROI rule
(named like the original: the rule text followed by ``dff``, e.g.
``BC_L-BC_Rdff``). CLMF columns: ``frame, time, cj_speed, freq, reward, trial,
audio, lick`` then ``<part>_x, <part>_y, <part>_likelihood`` per body part.

Units: ``time`` seconds since session start (6 decimals, camera-frame stamps),
``freq`` Hz (0 = silent, i.e. rest), ``cj_speed`` in the control signal's units
(px/frame by default), dF/F values as fractions (0.075, not 7.5 %).
``reward`` is 1 on the success frame, -1 on the timeout frame, else 0.
``lick`` is 1 on frames where the tongue touched the lick spout (a touch overlapping
the frame's interval, from its stamp to the next frame's), else 0 (:func:`lick_column`).
Every row is flushed as written, so a crash keeps all rows but possibly the last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from clopy_data.session import LineFile

#: Column suffix of dF/F columns, as in the original (``BC_Ldff``).
DFF_SUFFIX = 'dff'

_REWARD_CODES = (-1, 0, 1)


def _check_label(path: Path, kind: str, name: str) -> None:
    if not isinstance(name, str) or not name or any(c in name for c in '\t\r\n'):
        raise ValueError(f'{path}: {kind} {name!r} must be a non-empty string without tabs or newlines')


def frame_table_columns(roi_names: Sequence[str], rule_column: str | None = None) -> list[str]:
    """Column names of a CLNF frame table.

    Args:
        roi_names: ROI names in order, e.g. ``['BC_L', 'BC_R']``.
        rule_column: the 2-ROI rule text (``'BC_L-BC_R'``); None for 1 ROI, and a
            rule equal to one ROI name adds no column (the 1-ROI rule is the ROI).
    """
    cols = ['frame', 'time'] + [f'{name}{DFF_SUFFIX}' for name in roi_names]
    if rule_column is not None and rule_column not in roi_names:
        cols.append(f'{rule_column}{DFF_SUFFIX}')
    return cols + ['freq', 'rew_threshold', 'reward', 'trial', 'audio', 'lick']


def clmf_table_columns(body_parts: Sequence[str]) -> list[str]:
    """Column names of a CLMF frame table."""
    cols = ['frame', 'time', 'cj_speed', 'freq', 'reward', 'trial', 'audio', 'lick']
    for part in body_parts:
        cols += [f'{part}_x', f'{part}_y', f'{part}_likelihood']
    return cols


def touches_from_changes(changes: Sequence[tuple[float, bool]]) -> list[tuple[float, float]]:
    """(on_s, off_s) touches from a lick sensor's changes (stamp_s, touching) in time
    order; a touch never released (the recording ended) lasts to infinity."""
    touches: list[tuple[float, float]] = []
    on: float | None = None
    for stamp_s, touching in changes:
        if touching and on is None:
            on = float(stamp_s)
        elif not touching and on is not None:
            touches.append((on, float(stamp_s)))
            on = None
    if on is not None:
        touches.append((on, math.inf))
    return touches


def lick_column(frame_times_s: Sequence[float], touches: Sequence[tuple[float, float]]) -> list[int]:
    """1 for each frame whose interval [its stamp, the next frame's stamp) overlaps a
    touch (on_s, off_s), else 0. The last frame's interval is one median frame period
    long. Frame stamps in order, on the same clock as the touches."""
    times = [float(t) for t in frame_times_s]
    if not times:
        return []
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    period = gaps[len(gaps) // 2] if gaps else 0.0
    ends = times[1:] + [times[-1] + period]
    out = [0] * len(times)
    k = 0
    for on, off in sorted(touches):
        while k < len(times) and ends[k] <= on:
            k += 1
        j = k
        while j < len(times) and times[j] < off:
            if ends[j] > on:
                out[j] = 1
            j += 1
    return out


def _float(x: float) -> str:
    """Shortest text that reads back as the same float ('nan' for NaN)."""
    return repr(float(x))


def _hz(x: float) -> str:
    """Tone frequency: integral values as integers (the original's table is int Hz)."""
    f = float(x)
    return str(int(f)) if math.isfinite(f) and f.is_integer() else repr(f)


class _TsvTable(LineFile):
    """Tab-separated, line-flushed, thread-safe table that never overwrites a file."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        if len(set(columns)) != len(columns):
            dup = sorted({c for c in columns if columns.count(c) > 1})
            raise ValueError(f'{path}: duplicate column names {dup}')
        super().__init__(path, 'frame table')
        self.columns = columns
        self._put(columns)

    def _put(self, cells: list[str]) -> None:
        super()._put('\t'.join(cells))

    def _common(self, frame: int, time_s: float, reward: int) -> tuple[str, str]:
        if isinstance(frame, bool) or int(frame) != frame or frame < 0:
            raise ValueError(f'{self.path}: frame {frame!r} must be a non-negative integer')
        if reward not in _REWARD_CODES:
            raise ValueError(f'{self.path}: frame {frame}: reward {reward!r} must be 1, -1 or 0')
        t = float(time_s)
        if not math.isfinite(t):
            raise ValueError(f'{self.path}: frame {frame}: time_s {time_s!r} is not finite')
        return str(int(frame)), f'{t:.6f}'


class FrameTableWriter(_TsvTable):
    """CLNF per-frame table (``VideoTimestamp.txt`` columns of the original).

    Args:
        path: file to create (refuses to overwrite).
        roi_names: ROI names in order, e.g. ``['BC_L']`` or ``['BC_L', 'BC_R']``.
        rule_column: rule text for 2-ROI sessions (``'BC_L-BC_R'``), else None.
    """

    def __init__(self, path: Path, roi_names: Sequence[str], rule_column: str | None = None) -> None:
        path = Path(path)
        if not roi_names:
            raise ValueError(f'{path}: roi_names is empty')
        for name in roi_names:
            _check_label(path, 'ROI name', name)
        if rule_column is not None:
            _check_label(path, 'rule', rule_column)
        self.roi_names = list(roi_names)
        self.has_rule_column = rule_column is not None and rule_column not in self.roi_names
        super().__init__(path, frame_table_columns(self.roi_names, rule_column))

    def add_row(
        self,
        frame: int,
        time_s: float,
        dff: Mapping[str, float],
        rule_value: float | None,
        freq_hz: float,
        threshold: float,
        reward: int,
        trial: int,
        audio: int,
        lick: int,
    ) -> None:
        """Append one frame.

        Args:
            frame: frame index (0-based).
            time_s: seconds since session start.
            dff: dF/F0 per ROI name (fraction; NaN allowed for "not ready").
            rule_value: value of the 2-ROI rule; ignored without a rule column.
            freq_hz: tone frequency, 0 during rest.
            threshold: reward threshold in force (dF/F fraction).
            reward: 1 success frame, -1 timeout frame, else 0.
            trial: trial number (0 before the first trial).
            audio: 1 when feedback audio is on for this trial, else 0.
            lick: lick sensor state (0/1) or count on this frame.
        """
        frame_s, time_txt = self._common(frame, time_s, reward)
        missing = [n for n in self.roi_names if n not in dff]
        extra = [n for n in dff if n not in self.roi_names]
        if missing or extra:
            raise KeyError(
                f'{self.path}: frame {frame}: dff keys {sorted(dff)} do not match ROIs '
                f'{self.roi_names} (missing {missing}, unknown {extra})'
            )
        cells = [frame_s, time_txt] + [_float(dff[n]) for n in self.roi_names]
        if self.has_rule_column:
            if rule_value is None:
                raise ValueError(f'{self.path}: frame {frame}: rule_value is required (2-ROI rule column)')
            cells.append(_float(rule_value))
        cells += [_hz(freq_hz), _float(threshold), str(int(reward)), str(int(trial)), str(int(audio)), str(int(lick))]
        self._put(cells)


class ClmfFrameTableWriter(_TsvTable):
    """CLMF per-frame table: speed, feedback and the pose of every body part.

    Args:
        path: file to create (refuses to overwrite).
        body_parts: body-part names in the pose model's order.
    """

    def __init__(self, path: Path, body_parts: Sequence[str]) -> None:
        path = Path(path)
        for name in body_parts:
            _check_label(path, 'body part', name)
        self.body_parts = list(body_parts)
        super().__init__(path, clmf_table_columns(self.body_parts))

    def add_row(
        self,
        frame: int,
        time_s: float,
        speed: float,
        freq_hz: float,
        reward: int,
        trial: int,
        audio: int,
        lick: int,
        pose: Mapping[str, tuple[float, float, float]] | None = None,
    ) -> None:
        """Append one frame.

        Args:
            frame, time_s, freq_hz, reward, trial, audio, lick: as for
                :meth:`FrameTableWriter.add_row`.
            speed: control-point speed (``cj_speed``, px/frame by default).
            pose: ``{part: (x_px, y_px, likelihood)}``; parts absent (or no pose
                for this frame) are written as NaN.
        """
        frame_s, time_txt = self._common(frame, time_s, reward)
        pose = pose or {}
        extra = [p for p in pose if p not in self.body_parts]
        if extra:
            raise KeyError(f'{self.path}: frame {frame}: unknown body parts {extra}; table has {self.body_parts}')
        cells = [frame_s, time_txt, _float(speed), _hz(freq_hz), str(int(reward)), str(int(trial)),
                 str(int(audio)), str(int(lick))]
        nan = float('nan')
        for part in self.body_parts:
            values = pose.get(part, (nan, nan, nan))
            if len(values) != 3:
                raise ValueError(f'{self.path}: frame {frame}: pose[{part!r}] = {values!r} is not (x, y, likelihood)')
            cells += [_float(v) for v in values]
        self._put(cells)


def read_frame_table(path: Path) -> pd.DataFrame:
    """Read a CLNF or CLMF frame table (or an original ``VideoTimestamp.txt``)."""
    path = Path(path)
    try:
        return pd.read_csv(path, sep='\t')
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f'{path}: not a readable frame table: {exc}') from exc
