"""Session folders, the pyControl-style event log, archived task files and the summary CSV.

Plain Python (no rclpy) so the recorder node, the ``clopy`` command and offline
analysis share one implementation.

Event log format (pyControl's data contract): one UTF-8 TSV per session with the
header ``time\\ttype\\tsubtype\\tcontent``; ``time`` in seconds since run start
with 6 decimals (pyControl has a 1 ms grid; frames are ~33-67 ms apart, so
microseconds keep camera-stamp precision). ``info`` rows carry metadata at time 0.
Tabs, newlines, carriage returns and backslashes in ``subtype``/``content`` are
written as ``\\t``, ``\\n``, ``\\r`` and ``\\\\`` so a row is always one line.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import hashlib
import io
import math
import os
import re
import shutil
import threading
import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

#: Header of the event log.
EVENT_LOG_COLUMNS: tuple[str, ...] = ('time', 'type', 'subtype', 'content')

#: Row types of the event log (those of pyControl, as in TaskEvent.msg).
EVENT_TYPES: frozenset[str] = frozenset(
    {'info', 'state', 'event', 'print', 'variable', 'warning', 'error'}
)

#: Summary CSV columns: the original CLoPy's, then CLoPy-ROS's additions.
ORIGINAL_SUMMARY_COLUMNS: tuple[str, ...] = (
    'mouse_id', 'session', 'data_path', 'start', 'end', 'duration', 'fps',
    'dff_history', 'n_tones', 'reward_threshold', 'rewards', 'audio', 'session_type',
)
SUMMARY_COLUMNS: tuple[str, ...] = ORIGINAL_SUMMARY_COLUMNS + (
    'paradigm', 'trials', 'successes', 'failures', 'final_threshold', 'dropped_frames',
    'rerun_of', 'clopy_version',
    # how the session ended and how healthy it was (docs/recording.md)
    'end_reason', 'end_error', 'stalled_s', 'rewards_refused', 'valve_openings', 'water_ul', 'invalid_frames',
)

# Mouse ids and paradigm names become folder names: letters, digits, '.', '-', '_',
# starting with a letter or digit (no hidden folders, no path separators).
_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}')

_ESCAPES = {'\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r'}
_UNESCAPES = {'\\': '\\', 't': '\t', 'n': '\n', 'r': '\r'}


# -------------------------------------------------------------------- session dir


def _check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise ValueError(
            f'{kind} {value!r}: use 1-64 letters, digits, ".", "-" or "_", '
            'starting with a letter or digit'
        )
    return value


#: the check of a mouse id or paradigm name, for other packages (the mouse profile)
check_name = _check_name


def session_dir_name(mouse_id: str, start: datetime) -> str:
    """Folder name ``<mouse>_<YYYYmmdd-HHMMSS>`` (start in its own time zone)."""
    _check_name('mouse id', mouse_id)
    return f'{mouse_id}_{start:%Y%m%d-%H%M%S}'


def is_session_of(folder_name: str, mouse_id: str) -> bool:
    """Whether a folder name is one of `mouse_id`'s sessions (``<mouse>_<YYYYmmdd-HHMMSS>[_N]``;
    mouse ``M1`` never matches ``M1_b``'s folders)."""
    return re.fullmatch(re.escape(mouse_id) + r'_\d{8}-\d{6}(_\d+)?', folder_name) is not None


def create_session_dir(out_root: Path, mouse_id: str, start: datetime, paradigm: str) -> Path:
    """Create and return ``<out_root>/<paradigm>/<mouse>_<YYYYmmdd-HHMMSS>``.

    Never reuses a folder: if the name exists (two starts in one second, a rerun)
    ``_2``, ``_3``, ... is appended. Creation is atomic (``mkdir`` without
    ``exist_ok``), so two processes cannot get the same folder.
    """
    _check_name('paradigm', paradigm)
    parent = Path(out_root) / paradigm
    parent.mkdir(parents=True, exist_ok=True)
    base = session_dir_name(mouse_id, start)
    for n in range(1, 1000):
        path = parent / (base if n == 1 else f'{base}_{n}')
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f'{parent}: 999 session folders named {base}* exist already')


# --------------------------------------------------------------------- event log


def escape_field(text: str) -> str:
    """Escape tabs, newlines, CRs and backslashes so a value fits one TSV cell."""
    return ''.join(_ESCAPES.get(ch, ch) for ch in text)


def unescape_field(text: str) -> str:
    """Inverse of :func:`escape_field`."""
    if '\\' not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '\\' and i + 1 < len(text) and text[i + 1] in _UNESCAPES:
            out.append(_UNESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return ''.join(out)


def _iso(when: datetime, what: str) -> str:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f'{what} {when!r} must be timezone-aware (e.g. datetime.now().astimezone())')
    return when.isoformat(timespec='microseconds')


class LineFile:
    """A text file written one flushed line at a time, thread-safe, created only
    when it does not exist yet (a second session never clobbers one). A crashed
    or killed process leaves every line it wrote readable. ``what`` names the
    file in errors ('event log', 'frame table')."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self._what = what
        self._lock = threading.Lock()
        try:
            self._file: io.TextIOWrapper | None = self.path.open(
                'x', encoding='utf-8', newline='\n', buffering=1
            )
        except FileExistsError:
            raise FileExistsError(f'{self.path}: {what} exists already, not overwriting') from None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._file is None

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            if self._file is not None:
                file, self._file = self._file, None
                try:
                    file.close()
                except OSError as exc:
                    # a full disk: closed anyway; every line flushed before stays readable
                    if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not file.closed:
                        raise

    def __enter__(self):  # noqa: ANN204 - returns the subclass instance
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _put(self, line: str) -> None:
        with self._lock:
            if self._file is None:
                raise ValueError(f'{self.path}: {self._what} is closed')
            self._file.write(line + '\n')
            self._file.flush()  # line buffering already does; explicit for clarity


class EventLogWriter(LineFile):
    """Writer of the session's pyControl-style event log (``time type subtype content``).

    Every row is flushed to the OS as soon as it is written, so a crashed or
    killed process leaves every row it wrote readable. Thread-safe. Refuses to
    overwrite an existing file.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, 'event log')
        self._last_time_s = 0.0
        self._put('\t'.join(EVENT_LOG_COLUMNS))

    def info(self, name: str, value: Any) -> None:
        """Metadata row ``<time> info <name> <value>``; datetimes as ISO 8601 with offset.
        The time is that of the latest row, so times never go back in the file
        (0 at the start; the end_time row carries the session's last time)."""
        content = _iso(value, f'info {name!r}') if isinstance(value, datetime) else str(value)
        self.write(self._last_time_s, 'info', name, content)

    def write_start_info(
        self,
        *,
        subject_id: str,
        paradigm: str,
        start_time: datetime,
        task_file: str = '',
        task_file_hash: str = '',
        setup_id: str = '',
        session_type: str = '',
        versions: Mapping[str, str] | None = None,
    ) -> None:
        """The standard ``info`` rows of a session start, in a fixed order.

        ``task_file_hash`` is the hex SHA-256 of the archived task file;
        ``versions`` maps a component (``clopy``, ``python``, ...) to its version,
        written as ``<component>_version`` rows.
        """
        self.info('subject_id', subject_id)
        self.info('paradigm', paradigm)
        if session_type:
            self.info('session_type', session_type)
        if task_file:
            self.info('task_file', task_file)
        if task_file_hash:
            self.info('task_file_hash', task_file_hash)
        if setup_id:
            self.info('setup_id', setup_id)
        for component, version in (versions or {}).items():
            self.info(f'{component}_version', version)
        self.info('start_time', start_time)

    def write(self, time_s: float, type: str, subtype: str = '', content: Any = '') -> None:
        """Append one row.

        Args:
            time_s: seconds since run start (finite, >= 0).
            type: one of :data:`EVENT_TYPES`.
            subtype: e.g. ``input``/``timer`` for events, ``run_start``/``set`` for variables.
            content: any value, written with ``str()`` and escaped.
        """
        if type not in EVENT_TYPES:
            raise ValueError(f'{self.path}: row type {type!r} is not one of {sorted(EVENT_TYPES)}')
        try:
            t = float(time_s)
        except (TypeError, ValueError):
            raise ValueError(f'{self.path}: time_s {time_s!r} is not a number') from None
        if not math.isfinite(t) or t < 0:
            raise ValueError(f'{self.path}: time_s {time_s!r} must be finite and >= 0')
        self._last_time_s = max(self._last_time_s, t)
        self._put(f'{t:.6f}\t{type}\t{escape_field(str(subtype))}\t{escape_field(str(content))}')

    def close(self, end_time: datetime | None = None) -> None:
        """Write the ``info end_time`` row (when given) and close; idempotent."""
        if self.closed:
            return
        if end_time is not None:
            self.info('end_time', end_time)
        super().close()


def read_event_log(path: Path) -> pd.DataFrame:
    """Read an event log into columns ``time`` (float s), ``type``, ``subtype``, ``content``.

    Rows keep file order. An unterminated last line (process killed mid-write) is
    dropped with a warning; any other malformed line is an error naming the line.
    """
    path = Path(path)
    text = path.read_text(encoding='utf-8')
    lines = text.split('\n')
    header = '\t'.join(EVENT_LOG_COLUMNS)
    if lines[0] != header:
        raise ValueError(f'{path}: header {lines[0][:80]!r} is not {header!r}')
    body = lines[1:]
    tail = body.pop() if body else ''
    if tail:
        # Text after the last newline: a row cut short by a crash.
        warnings.warn(f'{path}: dropping unterminated last line {tail[:80]!r}', stacklevel=2)
    rows: list[tuple[float, str, str, str]] = []
    for number, line in enumerate(body, start=2):
        cells = line.split('\t')
        if len(cells) != 4:
            raise ValueError(f'{path}: line {number} has {len(cells)} fields, expected 4: {line[:80]!r}')
        try:
            t = float(cells[0])
        except ValueError:
            raise ValueError(f'{path}: line {number}: time {cells[0]!r} is not a number') from None
        rows.append((t, cells[1], unescape_field(cells[2]), unescape_field(cells[3])))
    df = pd.DataFrame(rows, columns=list(EVENT_LOG_COLUMNS))
    df['time'] = df['time'].astype('float64')
    for col in ('type', 'subtype', 'content'):
        df[col] = df[col].astype(object)
    return df


def session_info(df: pd.DataFrame) -> dict[str, str]:
    """``info`` rows of an event log as ``{subtype: content}`` (a repeated name keeps the last)."""
    info = df[df['type'] == 'info']
    return {str(k): str(v) for k, v in zip(info['subtype'], info['content'])}


# ----------------------------------------------------------------------- archive


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open('rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def archive_file(src: Path, session_dir: Path) -> tuple[Path, str]:
    """Copy a task/parameter file into the session folder under its own name.

    The hash is computed from the bytes actually written, so it describes the
    archived copy even if the source is edited meanwhile. An existing file of the
    same name is kept if identical, otherwise it is an error (never overwritten).

    Returns:
        (destination path, hex SHA-256 of its content)
    """
    src, session_dir = Path(src), Path(session_dir)
    if not src.is_file():
        raise FileNotFoundError(f'archive_file: source {src} is not a file')
    if not session_dir.is_dir():
        raise FileNotFoundError(f'archive_file: session folder {session_dir} does not exist')
    data = src.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    dest = session_dir / src.name
    if dest.exists():
        if sha256_file(dest) == digest:
            return dest, digest
        raise FileExistsError(f'archive_file: {dest} exists with different content than {src}')
    with dest.open('xb') as f:
        f.write(data)
    shutil.copystat(src, dest)  # keep the source's mtime: when the task was last edited
    return dest, digest


# ----------------------------------------------------------------------- summary


def _cell(value: Any) -> str:
    if value is None:
        return ''
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def _older_summary(header: list[str]) -> bool:
    """A summary written by an earlier CLoPy-ROS: its header is a shorter start of today's
    (the original CLoPy's own file, without CLoPy-ROS's columns, is not one)."""
    return len(ORIGINAL_SUMMARY_COLUMNS) < len(header) < len(SUMMARY_COLUMNS) and tuple(header) == SUMMARY_COLUMNS[:len(header)]


def _upgrade_summary(f, n_old: int) -> int:
    """Rewrite an older summary file in place (the caller holds its lock) with today's
    header; old rows get empty cells in the new columns. Returns the new size."""
    f.seek(0)
    rows = list(csv.reader(io.StringIO(f.read().decode('utf-8', errors='replace'))))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(SUMMARY_COLUMNS)
    for r in rows[1:]:
        if r:
            writer.writerow(r + [''] * (len(SUMMARY_COLUMNS) - len(r)))
    f.seek(0)
    f.truncate()
    f.write(buf.getvalue().encode('utf-8'))
    f.flush()
    return f.seek(0, os.SEEK_END)


def append_summary_row(csv_path: Path, row: Mapping[str, Any]) -> None:
    """Append one session row to the summary CSV (:data:`SUMMARY_COLUMNS`).

    Missing keys are written empty, unknown keys are an error. The header is
    written when the file is new or empty. An exclusive ``fcntl.flock`` is held
    from the header check to the flush, so rigs appending at once cannot
    interleave or both write a header. A file written by an earlier version
    (today's header without the newer columns) is upgraded in place, its rows
    kept with those cells empty; a file with any other header is never appended to.
    """
    csv_path = Path(csv_path)
    unknown = [k for k in row if k not in SUMMARY_COLUMNS]
    if unknown:
        raise ValueError(f'{csv_path}: unknown summary column(s) {unknown}; allowed: {list(SUMMARY_COLUMNS)}')
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator='\n').writerow([_cell(row.get(c)) for c in SUMMARY_COLUMNS])
    line = buf.getvalue()
    # Binary mode: the header check seeks to byte offsets, which text mode forbids.
    with csv_path.open('a+b') as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            f.seek(0)
            first = f.readline().decode('utf-8', errors='replace')
            size = f.seek(0, os.SEEK_END)
            out = b''
            if size == 0:
                out = (','.join(SUMMARY_COLUMNS) + '\n').encode('utf-8')
            else:
                have = next(csv.reader([first.rstrip('\r\n')]), [])
                if _older_summary(have):
                    size = _upgrade_summary(f, len(have))
                elif tuple(have) != SUMMARY_COLUMNS:
                    raise ValueError(
                        f'{csv_path}: header {have} differs from the expected {list(SUMMARY_COLUMNS)}; '
                        'not appending (use a new summary file)'
                    )
                f.seek(size - 1)
                if f.read(1) != b'\n':
                    out = b'\n'  # a previous writer died mid-row: start a fresh line
            f.write(out + line.encode('utf-8'))  # 'a' mode appends at the end whatever the position
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
