"""The registry: schema version, rig and subject locks, stale locks of dead processes,
session rows from folders."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from clopy_dashboard.experiment import records
from clopy_dashboard.experiment.registry import (DATABASE, SCHEMA_VERSION, Busy, Registry, RegistryError,
                                                 UNFINISHED)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, '-c', 'pass'])
    p.wait()
    return p.pid


def test_a_database_from_a_newer_schema_is_refused(tmp_path):
    Registry(tmp_path).close()
    db = sqlite3.connect(tmp_path / DATABASE)
    db.execute('INSERT INTO schema_version (version) VALUES (?)', (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(RegistryError) as info:
        Registry(tmp_path)
    text = str(info.value)
    assert str(tmp_path / DATABASE) in text
    assert f'schema_version {SCHEMA_VERSION + 1} is from a newer CLoPy-ROS' in text
    assert f'up to {SCHEMA_VERSION}' in text


def test_wal_journal(tmp_path):
    with Registry(tmp_path) as reg:
        assert reg.db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'


def test_not_a_database_is_named(tmp_path):
    (tmp_path / DATABASE).write_text('not sqlite ' * 100)
    with pytest.raises(RegistryError, match=f'{tmp_path / DATABASE}: not a usable registry database'):
        Registry(tmp_path)


def test_two_subjects_never_on_one_rig_one_subject_never_on_two_rigs(tmp_path):
    with Registry(tmp_path) as reg:
        first = reg.start_session('exp', 'M1', 1, 'rig1', 'clnf_1roi')   # this process: alive
        with pytest.raises(Busy, match=r"rig 'rig1' is busy: M1 day 1 on rig1 \(exp\), process \d+"):
            reg.start_session('exp', 'M2', 1, 'rig1', 'clnf_1roi')
        with pytest.raises(Busy, match=r"subject 'M1' is busy: M1 day 1 on rig1"):
            reg.start_session('exp', 'M1', 2, 'rig2', 'clnf_1roi')
        second = reg.start_session('exp', 'M2', 1, 'rig2', 'clnf_1roi')
        assert {(lk['kind'], lk['name']) for lk in reg.locks()} == {('rig', 'rig1'), ('rig', 'rig2'),
                                                                    ('subject', 'M1'), ('subject', 'M2')}
        reg.release(first)
        reg.release(second)
        assert reg.locks() == []
        # a refused start left no row
        assert [(r['subject'], r['rig']) for r in reg.sessions('exp')] == [('M1', 'rig1'), ('M2', 'rig2')]


def test_the_locks_of_a_dead_run_are_stale_and_its_row_becomes_unfinished(tmp_path):
    pid = dead_pid()
    with Registry(tmp_path) as reg:
        sid = reg.start_session('exp', 'M1', 1, 'rig1', 'clnf_1roi', pid=pid)
        assert [r['id'] for r in reg.stale_runs()] == [sid]
        stale = records.refresh(reg)
        assert [r['id'] for r in stale] == [sid]
        row = reg.session(sid)
        assert row['status'] == UNFINISHED
        assert row['end_reason'] == records.DIED_BEFORE_FOLDER.format(pid=pid)
        assert reg.locks() == []
        # the rig and the subject are free again
        reg.release(reg.start_session('exp', 'M1', 1, 'rig1', 'clnf_1roi'))


def test_a_stale_lock_is_taken_over_at_start(tmp_path):
    with Registry(tmp_path) as reg:
        reg.start_session('exp', 'M1', 1, 'rig1', 'clnf_1roi', pid=dead_pid())
        sid = reg.start_session('exp', 'M2', 1, 'rig1', 'clnf_1roi')
        assert [lk['session_id'] for lk in reg.locks() if lk['kind'] == 'rig'] == [sid]


def test_a_folder_without_its_summary_row_is_unfinished(tmp_path):
    folder = tmp_path / 'clnf_1roi' / 'M1_20261202-100000'
    folder.mkdir(parents=True)
    (folder / 'parameters.yaml').write_text('recorder:\n  ros__parameters:\n    paradigm: clnf_1roi\n')
    (folder / 'events.tsv').write_text('time\ttype\tsubtype\tcontent\n'
                                       '0.000000\tinfo\tstart_time\t2026-12-02T10:00:00+00:00\n')
    records.write_sidecar(folder, 'exp', 'M1', 'grp1', 3, 'rig1', 'clnf_1roi')
    row = records.folder_row(folder)
    assert row['experiment'] == 'exp' and row['subject'] == 'M1' and row['day'] == 3 and row['rig'] == 'rig1'
    assert row['status'] == UNFINISHED and row['end_reason'].startswith('cut short: no summary row')
    assert row['started'] == '2026-12-02T10:00:00+00:00' and row['trials'] is None
    assert records.experiment_folders(tmp_path, 'exp') == [folder]
    assert records.experiment_folders(tmp_path, 'other') == []
