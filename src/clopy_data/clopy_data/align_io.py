"""Reading the pulse records ``clopy align`` works on: the session's sync pulses from its
bag, another system's TTL times (text or CSV), a video's LED brightness per frame (a
CSV, or the video itself through OpenCV) and the LED onsets in it."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clopy_data.align import AlignError

UNITS_S = {'s': 1.0, 'ms': 1e-3, 'us': 1e-6, 'ns': 1e-9}
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov', '.m4v', '.mjpeg', '.mpg', '.webm')
TIME_NAMES = ('time', 'time_s', 'timestamp', 't', 'times', 'ttl', 'time_ms', 'onset', 'onset_s')
BRIGHTNESS_NAMES = ('brightness', 'led', 'intensity', 'mean')
SYNC_NAME = 'sync'   # the reward node's RewardEvent name for a sync pulse (clopy_reward.sync)


@dataclass
class SessionPulses:
    """The session's sync pulse on times, seconds since its first frame (``t0_epoch_s``,
    the per-frame table's zero), and that zero as UTC epoch seconds."""

    times_s: np.ndarray
    t0_epoch_s: float
    t0_from: str


@dataclass
class FrameRecord:
    """A video's brightness per frame: frame numbers, times (its own clock, seconds)."""

    frames: np.ndarray
    times_s: np.ndarray
    brightness: np.ndarray


def _stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def session_pulses(session_dir: Path) -> SessionPulses:
    """The sync pulses a session recorded (RewardEvent named sync, delivered)."""
    from clopy_data.bag import BagError, read_bag, readable_bag, typestore_with_clopy
    from clopy_data.folder import SessionFolder
    from clopy_data.topics import CONTROL_SIGNAL, REWARD_EVENT
    folder = SessionFolder(session_dir)
    if not folder.bag.is_dir():
        raise AlignError(f'{session_dir}: no bag/ folder: not a session folder')
    try:
        bag, _ = readable_bag(folder.bag)
        on, first_frame, first_stamp = set(), None, None
        for m in read_bag(bag, typestore_with_clopy(), topics=(REWARD_EVENT, CONTROL_SIGNAL)):
            if m.topic == REWARD_EVENT:
                if m.msg.name == SYNC_NAME and m.msg.delivered and _stamp_s(m.msg.on_time) > 0:
                    on.add(_stamp_s(m.msg.on_time))
            elif first_frame is None or m.msg.frame_index < first_frame:
                first_frame, first_stamp = m.msg.frame_index, _stamp_s(m.msg.header.stamp)
    except BagError as exc:
        raise AlignError(str(exc)) from exc
    if not on:
        raise AlignError(f'{folder.bag}: no sync pulses recorded (reward_event named {SYNC_NAME!r}); the '
                         'session ran with reward.sync_pin -1 (off)? docs/sync.md')
    times = np.array(sorted(on))
    if first_stamp is None:
        return SessionPulses(times - times[0], float(times[0]), 'the first sync pulse (no frames recorded)')
    return SessionPulses(times - first_stamp, first_stamp, 'the first frame')


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding='utf-8-sig')
    except (OSError, UnicodeDecodeError) as exc:
        raise AlignError(f'{path}: cannot read: {exc}') from exc
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith('#')]
    if not lines:
        raise AlignError(f'{path}: empty (no rows)')
    sample = lines[0][1]
    delimiter = next((d for d in ('\t', ',', ';') if d in sample), None)
    if delimiter is None:
        return [(n, line.split()) for n, line in lines]
    return [(n, [c.strip() for c in row]) for (n, _), row in
            zip(lines, csv.reader([line for _, line in lines], delimiter=delimiter))]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _table(path: Path) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    rows = _rows(path)
    if not all(_is_number(c) for c in rows[0][1] if c):
        return [c.lower() for c in rows[0][1]], rows[1:]
    return None, rows


def _column(path: Path, header, column: str | None, names: tuple[str, ...], what: str, fallback: int | None):
    if column is not None:
        if column.isdigit():
            return int(column)
        if header is None or column.lower() not in header:
            raise AlignError(f'{path}: no column {column!r} (columns: {header or "none named, give a number"})')
        return header.index(column.lower())
    if header is not None:
        for name in names:
            if name in header:
                return header.index(name)
    if fallback is None:
        raise AlignError(f'{path}: which column holds the {what}? none is named {"/".join(names)}; '
                         f'columns: {header}; name it with the option for it')
    return fallback


def _numbers(path: Path, rows, col: int, what: str) -> np.ndarray:
    out = []
    for n, cells in rows:
        if col >= len(cells):
            raise AlignError(f'{path}: line {n}: no column {col} for the {what} (the row has {len(cells)})')
        try:
            out.append(float(cells[col]))
        except ValueError:
            raise AlignError(f'{path}: line {n}: {what} {cells[col]!r} is not a number') from None
    return np.array(out, dtype=float)


def read_ttl_times(path: Path, column: str | None = None, unit: str = 's') -> np.ndarray:
    """TTL onset times from a text file (one per line) or a CSV/TSV (a column named
    time/timestamp/..., the one given, or the first), converted to seconds."""
    if unit not in UNITS_S:
        raise AlignError(f'unit {unit!r}: allowed are {", ".join(UNITS_S)}')
    header, rows = _table(Path(path))
    col = _column(Path(path), header, column, TIME_NAMES, 'TTL times', 0)
    return _numbers(Path(path), rows, col, 'TTL time') * UNITS_S[unit]


def read_brightness_csv(path: Path, column: str | None = None, fps: float | None = None) -> FrameRecord:
    """A per-frame brightness CSV: a brightness column (named brightness/led/... or
    given), times from a time column (seconds) or frame / fps."""
    path = Path(path)
    header, rows = _table(path)
    if header is None:
        raise AlignError(f'{path}: a brightness CSV needs a header row (e.g. frame,time,brightness)')
    col = _column(path, header, column, BRIGHTNESS_NAMES, 'brightness', len(header) - 1)
    brightness = _numbers(path, rows, col, 'brightness')
    frames = (_numbers(path, rows, header.index('frame'), 'frame') if 'frame' in header
              else np.arange(len(rows), dtype=float))
    time_col = next((header.index(n) for n in ('time_s', 'time') if n in header), None)
    if time_col is not None:
        times = _numbers(path, rows, time_col, 'time')
    elif fps:
        times = frames / float(fps)
    else:
        raise AlignError(f'{path}: no time column (time_s or time) and no --fps: cannot time the frames')
    return FrameRecord(frames.astype(int), times, brightness)


def read_video_brightness(path: Path, roi: tuple[int, int, int, int] | None = None,
                          fps: float | None = None) -> FrameRecord:
    """Mean grey level of ``roi`` (x, y, width, height; None: the whole frame) in each
    frame of a video, read with OpenCV; times are frame / fps (the file's rate unless given)."""
    import cv2
    path = Path(path)
    if not path.is_file():
        raise AlignError(f'{path}: no such video file')
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise AlignError(f'{path}: OpenCV cannot open this video')
    rate = float(fps or cap.get(cv2.CAP_PROP_FPS) or 0.0)
    values = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if roi is not None:
                x, y, w, h = roi
                grey = grey[y:y + h, x:x + w]
                if not grey.size:
                    raise AlignError(f'{path}: --roi {x},{y},{w},{h} is outside the {frame.shape[1]}x'
                                     f'{frame.shape[0]} frame')
            values.append(float(grey.mean()))
    finally:
        cap.release()
    if not values:
        raise AlignError(f'{path}: no frames could be read')
    if not rate > 0:
        raise AlignError(f'{path}: the file gives no frame rate; give --fps')
    frames = np.arange(len(values))
    return FrameRecord(frames, frames / rate, np.array(values))


def led_onsets(record: FrameRecord, threshold: float | None = None, what: str = 'video') -> tuple[np.ndarray, float]:
    """Indices of the frames where the LED comes on (brightness crosses ``threshold``
    upwards; default: halfway between the median, the LED off, and the maximum) and the
    threshold used."""
    b = record.brightness
    if threshold is None:
        low, high = float(np.median(b)), float(np.max(b))
        if high - low < 1e-6 * max(1.0, abs(high)) or high - low <= 0:
            raise AlignError(f'{what}: no LED pulses: the brightness never rises above its median '
                             f'({low:g}); check the ROI (--roi) or give --threshold')
        threshold = (low + high) / 2
    above = b > threshold
    onsets = np.nonzero(above & ~np.concatenate(([True], above[:-1])))[0]
    return onsets, float(threshold)


def frame_period_s(record: FrameRecord) -> float:
    """Median time between frames."""
    d = np.diff(record.times_s)
    return float(np.median(d)) if len(d) else 0.0
