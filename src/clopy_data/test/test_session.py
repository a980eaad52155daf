"""Tests of clopy_data.session on real files (and real processes for crash and locking)."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from clopy_data.session import (
    EVENT_LOG_COLUMNS,
    ORIGINAL_SUMMARY_COLUMNS,
    SUMMARY_COLUMNS,
    EventLogWriter,
    append_summary_row,
    archive_file,
    create_session_dir,
    escape_field,
    read_event_log,
    session_dir_name,
    session_info,
    sha256_file,
    unescape_field,
)

PKG_ROOT = Path(__file__).resolve().parents[1]
TZ = timezone(timedelta(hours=-8))
START = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=TZ)


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code), *args], env=env, capture_output=True, timeout=120)


# ------------------------------------------------------------------ session dir


def test_session_dir_name():
    assert session_dir_name('GT33_tta', START) == 'GT33_tta_20250304-050607'
    assert session_dir_name('m1', datetime(2024, 12, 31, 23, 59, 59)) == 'm1_20241231-235959'


@pytest.mark.parametrize('bad', ['', 'a/b', '../x', '.hidden', 'with space', 'tab\t', 'mäus', '-x', 'x' * 65])
def test_bad_mouse_ids_are_refused(bad, tmp_path):
    with pytest.raises(ValueError, match='mouse id') as err:
        session_dir_name(bad, START)
    assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match='mouse id'):
        create_session_dir(tmp_path, bad, START, 'clnf')
    assert not any(tmp_path.rglob('*_2025*'))


def test_create_session_dir_never_reuses(tmp_path):
    first = create_session_dir(tmp_path, 'M7', START, 'clnf')
    assert first == tmp_path / 'clnf' / 'M7_20250304-050607' and first.is_dir()
    (first / 'keep.txt').write_text('data')
    second = create_session_dir(tmp_path, 'M7', START, 'clnf')
    third = create_session_dir(tmp_path, 'M7', START, 'clnf')
    assert second.name == 'M7_20250304-050607_2' and third.name == 'M7_20250304-050607_3'
    assert (first / 'keep.txt').read_text() == 'data'
    other = create_session_dir(tmp_path, 'M7', START, 'clmf')
    assert other == tmp_path / 'clmf' / 'M7_20250304-050607'
    with pytest.raises(ValueError, match="paradigm '../up'"):
        create_session_dir(tmp_path, 'M7', START, '../up')


# -------------------------------------------------------------------- event log


@pytest.mark.parametrize('text', ['', 'plain', 'a\tb', 'line1\nline2', 'cr\r', 'back\\slash', '\\t literal', 'end\\'])
def test_escape_round_trip(text):
    escaped = escape_field(text)
    assert '\t' not in escaped and '\n' not in escaped and '\r' not in escaped
    assert unescape_field(escaped) == text


def test_event_log_rows_and_format(tmp_path):
    path = tmp_path / 'events.tsv'
    end = START + timedelta(minutes=40, seconds=1.5)
    with EventLogWriter(path) as log:
        log.write_start_info(
            subject_id='M7',
            paradigm='clnf',
            start_time=START,
            task_file='clnf_task.py',
            task_file_hash='ab' * 32,
            setup_id='rig1',
            session_type='normal',
            versions={'clopy': '0.1.0', 'python': '3.11.2'},
        )
        log.write(0.0, 'state', '', 'rest')
        log.write(30.0000004, 'state', '', 'trial')
        log.write(31.2345678, 'event', 'input', 'crossing')
        log.write(31.3, 'variable', 'set', '{"threshold": 0.077}')
        log.write(32, 'print', '', 'multi\nline\twith tab')
        log.write(33.5, 'warning', '', 'frame 12 dropped')
        log.close(end)
        log.close(end)  # idempotent: no second end_time row
    assert log.closed

    lines = path.read_text(encoding='utf-8').split('\n')
    assert lines[0] == 'time\ttype\tsubtype\tcontent'
    assert lines[1] == '0.000000\tinfo\tsubject_id\tM7'
    assert '30.000000\tstate\t\ttrial' in lines
    assert '31.234568\tevent\tinput\tcrossing' in lines
    assert '32.000000\tprint\t\tmulti\\nline\\twith tab' in lines
    assert lines[-1] == ''  # every row ends with a newline
    assert all(len(line.split('\t')) == 4 for line in lines[:-1])
    # the end row carries the last time, so times never go back in the file
    assert lines[-2] == '33.500000\tinfo\tend_time\t2025-03-04T05:46:09.390123-08:00'

    df = read_event_log(path)
    assert list(df.columns) == list(EVENT_LOG_COLUMNS)
    assert df['time'].dtype == 'float64'
    assert df.loc[df['type'] == 'print', 'content'].item() == 'multi\nline\twith tab'
    assert df.loc[df['type'] == 'event', 'time'].item() == pytest.approx(31.234568)
    assert list(df['type']) == ['info'] * 9 + ['state', 'state', 'event', 'variable', 'print', 'warning', 'info']

    info = session_info(df)
    assert info['subject_id'] == 'M7' and info['paradigm'] == 'clnf' and info['setup_id'] == 'rig1'
    assert info['task_file_hash'] == 'ab' * 32 and info['clopy_version'] == '0.1.0'
    assert info['session_type'] == 'normal' and info['task_file'] == 'clnf_task.py'
    assert datetime.fromisoformat(info['start_time']) == START
    assert datetime.fromisoformat(info['end_time']) == end
    assert datetime.fromisoformat(info['start_time']).utcoffset() == timedelta(hours=-8)


def test_event_log_refuses_bad_input(tmp_path):
    path = tmp_path / 'events.tsv'
    log = EventLogWriter(path)
    with pytest.raises(ValueError, match='timezone-aware'):
        log.info('start_time', datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="'bogus'"):
        log.write(1.0, 'bogus', '', '')
    for bad in (float('nan'), float('inf'), -0.5, 'soon'):
        with pytest.raises(ValueError, match='time_s') as err:
            log.write(bad, 'event', 'input', 'x')
        assert str(path) in str(err.value)
    log.close()
    with pytest.raises(ValueError, match='closed'):
        log.write(1.0, 'event', 'input', 'x')
    with pytest.raises(FileExistsError, match='events.tsv'):
        EventLogWriter(path)
    # Nothing invalid reached the file.
    assert len(read_event_log(path)) == 0


def test_event_log_survives_a_killed_process(tmp_path):
    path = tmp_path / 'events.tsv'
    proc = run_python(
        """
        import os, signal, sys
        from datetime import datetime, timezone
        from clopy_data.session import EventLogWriter
        log = EventLogWriter(sys.argv[1])
        log.info('subject_id', 'M1')
        log.info('start_time', datetime(2025, 1, 1, tzinfo=timezone.utc))
        for i in range(500):
            log.write(i / 15, 'event', 'input', f'frame {i}')
        os.kill(os.getpid(), signal.SIGKILL)  # no close(), no interpreter shutdown
        """,
        str(path),
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    df = read_event_log(path)
    assert len(df) == 502
    assert df['content'].iloc[-1] == 'frame 499'
    assert df['time'].iloc[-1] == pytest.approx(499 / 15, abs=1e-6)
    assert 'end_time' not in session_info(df)


def test_read_event_log_tolerates_only_a_cut_last_line(tmp_path):
    path = tmp_path / 'events.tsv'
    path.write_text('time\ttype\tsubtype\tcontent\n0.000000\tinfo\tsubject_id\tM1\n1.5000', encoding='utf-8')
    with pytest.warns(UserWarning, match='unterminated'):
        df = read_event_log(path)
    assert len(df) == 1
    bad = tmp_path / 'bad.tsv'
    bad.write_text('time\ttype\tsubtype\tcontent\n0.0\tinfo\tx\n', encoding='utf-8')
    with pytest.raises(ValueError, match='line 2 has 3 fields'):
        read_event_log(bad)
    other = tmp_path / 'other.tsv'
    other.write_text('frame\ttime\n', encoding='utf-8')
    with pytest.raises(ValueError, match='other.tsv: header'):
        read_event_log(other)


# ---------------------------------------------------------------------- archive


def test_archive_file(tmp_path):
    src_dir, session = tmp_path / 'tasks', tmp_path / 'session'
    src_dir.mkdir()
    session.mkdir()
    src = src_dir / 'clnf_1roi.yaml'
    content = 'reward_threshold: 0.075\n# ünïcode\n'.encode()
    src.write_bytes(content)
    os.utime(src, (1_600_000_000, 1_600_000_000))
    dest, digest = archive_file(src, session)
    assert dest == session / 'clnf_1roi.yaml'
    assert dest.read_bytes() == content
    assert digest == hashlib.sha256(content).hexdigest() == sha256_file(dest)
    assert dest.stat().st_mtime == 1_600_000_000
    assert archive_file(src, session) == (dest, digest)  # same content again: fine
    src.write_bytes(content + b'changed: 1\n')
    with pytest.raises(FileExistsError, match='clnf_1roi.yaml'):
        archive_file(src, session)
    assert dest.read_bytes() == content
    with pytest.raises(FileNotFoundError, match='missing.yaml'):
        archive_file(src_dir / 'missing.yaml', session)


# ---------------------------------------------------------------------- summary


def test_summary_columns_extend_the_original():
    assert SUMMARY_COLUMNS[: len(ORIGINAL_SUMMARY_COLUMNS)] == ORIGINAL_SUMMARY_COLUMNS
    assert ORIGINAL_SUMMARY_COLUMNS == (
        'mouse_id', 'session', 'data_path', 'start', 'end', 'duration', 'fps', 'dff_history',
        'n_tones', 'reward_threshold', 'rewards', 'audio', 'session_type',
    )
    assert SUMMARY_COLUMNS[len(ORIGINAL_SUMMARY_COLUMNS):] == (
        'paradigm', 'trials', 'successes', 'failures', 'final_threshold', 'dropped_frames',
        'rerun_of', 'clopy_version',
        'end_reason', 'end_error', 'stalled_s', 'rewards_refused', 'valve_openings', 'water_ul',
        'invalid_frames',
    )


def test_append_summary_rows(tmp_path):
    path = tmp_path / 'sub' / 'summary.csv'
    append_summary_row(path, {'mouse_id': 'M1', 'session': 'M1_20250304-050607', 'start': START, 'rewards': 12,
                              'audio': True, 'final_threshold': 0.079, 'data_path': '/data/a,b "quoted"\nnewline'})
    append_summary_row(path, {'mouse_id': 'M2', 'rerun_of': 'M1_20250304-050607', 'fps': 14.98})
    lines = path.read_text().splitlines()
    assert lines[0] == ','.join(SUMMARY_COLUMNS)
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    assert list(df.columns) == list(SUMMARY_COLUMNS)
    assert list(df['mouse_id']) == ['M1', 'M2']
    assert df.loc[0, 'start'] == START.isoformat()
    assert df.loc[0, 'data_path'] == '/data/a,b "quoted"\nnewline'
    assert (df.loc[0, 'audio'], df.loc[0, 'rewards'], df.loc[0, 'final_threshold']) == ('1', '12', '0.079')
    assert df.loc[1, 'rerun_of'] == 'M1_20250304-050607' and df.loc[1, 'rewards'] == ''

    with pytest.raises(ValueError, match="'reward_count'"):
        append_summary_row(path, {'mouse_id': 'M3', 'reward_count': 3})
    assert len(pd.read_csv(path)) == 2


def test_append_summary_refuses_a_foreign_header(tmp_path):
    path = tmp_path / 'summary.csv'
    path.write_text(','.join(ORIGINAL_SUMMARY_COLUMNS) + '\nM1,s,p,a,b,1,15,6,18,0.075,3,1,normal\n')
    before = path.read_bytes()
    with pytest.raises(ValueError, match='summary.csv: header'):
        append_summary_row(path, {'mouse_id': 'M2'})
    assert path.read_bytes() == before


def test_an_older_clopy_ros_summary_is_upgraded_keeping_its_rows(tmp_path):
    path = tmp_path / 'summary.csv'
    old = SUMMARY_COLUMNS[:len(ORIGINAL_SUMMARY_COLUMNS) + 8]   # before the health columns
    path.write_text(','.join(old) + '\n' + ','.join(['M1'] + [''] * (len(old) - 1)) + '\n')
    append_summary_row(path, {'mouse_id': 'M2', 'end_reason': 'all trials done'})
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    assert list(df.columns) == list(SUMMARY_COLUMNS)
    assert list(df['mouse_id']) == ['M1', 'M2']
    assert list(df['end_reason']) == ['', 'all trials done']


def test_append_summary_after_a_torn_row(tmp_path):
    path = tmp_path / 'summary.csv'
    append_summary_row(path, {'mouse_id': 'M1'})
    with path.open('a') as f:
        f.write('M9,half a ro')  # a writer died mid-row
    append_summary_row(path, {'mouse_id': 'M2'})
    rows = list(csv.reader(path.open(newline='')))
    assert rows[-1][0] == 'M2' and len(rows[-1]) == len(SUMMARY_COLUMNS)
    assert rows[-2] == ['M9', 'half a ro']


def test_concurrent_appends_from_processes(tmp_path):
    path = tmp_path / 'summary.csv'
    code = """
        import sys, time
        from clopy_data.session import append_summary_row
        rig = sys.argv[2]
        time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # all start together
        for i in range(40):
            append_summary_row(sys.argv[1], {'mouse_id': f'{rig}m{i}', 'session': 'x' * 3000, 'rewards': i})
    """
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    start = time.time() + 2.0  # after every interpreter has started
    procs = [
        subprocess.Popen([sys.executable, '-c', textwrap.dedent(code), str(path), f'r{k}', str(start)], env=env)
        for k in range(6)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    rows = list(csv.reader(path.open(newline='')))
    assert rows[0] == list(SUMMARY_COLUMNS)
    body = rows[1:]
    assert len(body) == 6 * 40
    assert all(len(r) == len(SUMMARY_COLUMNS) and r[1] == 'x' * 3000 for r in body)
    assert sorted(r[0] for r in body) == sorted(f'r{k}m{i}' for k in range(6) for i in range(40))
