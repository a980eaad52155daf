"""The experiment registry: an SQLite database under the data root
(``<data_root>/clopy.sqlite``) with the subjects, one row per session and the rig and
subject locks. The session folders stay the data of record: every session row is
derived from its folder (:mod:`clopy_dashboard.experiment.records`), so `clopy
experiment rebuild` makes the same rows again from the folders.

Locks: a run holds its rig and its subject (rows of ``locks`` with its pid and host);
a second run on the same rig or of the same subject is refused while that process
lives. A lock of a process that died on this host is stale and is taken over. Plain
Python (stdlib sqlite3), WAL journal."""
from __future__ import annotations

import os
import socket
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

DATABASE = 'clopy.sqlite'
#: the journal of the database: wal (default, a local disk) or delete (a data root on a network share)
JOURNAL_ENV = 'CLOPY_REGISTRY_JOURNAL'
SCHEMA_VERSION = 1

RUNNING, FINISHED, UNFINISHED = 'running', 'finished', 'unfinished'
STATUSES = (RUNNING, FINISHED, UNFINISHED)

#: the session columns that come from the folder (and the plan); rebuilt == live compares these
SESSION_FIELDS = ('experiment', 'subject', 'day', 'rig', 'paradigm', 'session_dir', 'started', 'ended',
                  'status', 'end_reason', 'trials', 'successes', 'rewards', 'water_ul', 'final_threshold')

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
    experiment TEXT NOT NULL, subject TEXT NOT NULL, grp TEXT NOT NULL, rig TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (experiment, subject));
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    experiment TEXT NOT NULL, subject TEXT NOT NULL, day INTEGER NOT NULL, rig TEXT NOT NULL DEFAULT '',
    paradigm TEXT NOT NULL, session_dir TEXT NOT NULL DEFAULT '', started TEXT NOT NULL DEFAULT '',
    ended TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'unfinished')),
    end_reason TEXT NOT NULL DEFAULT '', trials INTEGER, successes INTEGER, rewards INTEGER,
    water_ul REAL, final_threshold REAL, pid INTEGER, host TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS sessions_subject ON sessions (experiment, subject, day);
CREATE TABLE IF NOT EXISTS locks (
    kind TEXT NOT NULL CHECK (kind IN ('rig', 'subject')), name TEXT NOT NULL,
    experiment TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL,
    session_id INTEGER, PRIMARY KEY (kind, name));
"""


class RegistryError(RuntimeError):
    """The database cannot be used (names the file and why)."""


class Busy(RegistryError):
    """The rig or the subject is in use by another run (the message names it and its holder)."""


#: how long a start's hold on a subject lasts without the rig reporting the run (its start
#: answers within 40 s; a run that has not shown up by then is seen at the next look)
PENDING_HOLD_S = 120.0


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc).astimezone() - timedelta(seconds=seconds)).isoformat(timespec='seconds')


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds')


def pid_alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (ended, not yet reaped by its parent) is no longer running
    try:
        with open(f'/proc/{int(pid)}/stat', encoding='utf-8') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return True


def host_id() -> str:
    """This computer, as the registry names it: the host name and the start of its machine id
    (two rig computers cloned from one image share a host name, never a machine id)."""
    name = socket.gethostname()
    try:
        machine = Path('/etc/machine-id').read_text().strip()[:8]
    except OSError:
        machine = ''
    return f'{name}/{machine}' if machine else name


class Registry:
    """The database of one data root."""

    def __init__(self, data_root: str | Path, create: bool = True):
        self.data_root = Path(data_root)
        self.path = self.data_root / DATABASE
        self.host = host_id()
        if not create and not self.path.is_file():
            raise RegistryError(f'{self.path}: no experiment registry here (no session was run with this data root)')
        self.data_root.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            # WAL needs shared memory: a data root on a network share takes the rollback journal
            journal = os.environ.get(JOURNAL_ENV, 'wal').lower()
            if journal not in ('wal', 'delete'):
                raise RegistryError(f'{JOURNAL_ENV}={journal!r}; allowed: wal (a local disk), delete (a network share)')
            self.db.execute(f'PRAGMA journal_mode={journal.upper()}')
            self.db.execute('PRAGMA busy_timeout=30000')
            with self.transaction():
                for statement in _SCHEMA.split(';'):
                    if statement.strip():
                        self.db.execute(statement)
                self._check_version()
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f'{self.path}: not a usable registry database ({exc})') from None

    def _check_version(self) -> None:
        row = self.db.execute('SELECT MAX(version) FROM schema_version').fetchone()
        version = row[0]
        if version is None:
            self.db.execute('INSERT INTO schema_version (version) VALUES (?)', (SCHEMA_VERSION,))
        elif version > SCHEMA_VERSION:
            raise RegistryError(f'{self.path}: schema_version {version} is from a newer CLoPy-ROS; this one reads '
                                f'schema versions up to {SCHEMA_VERSION} (update CLoPy-ROS, or rebuild a '
                                f'registry of this version elsewhere with `clopy experiment rebuild`)')

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> 'Registry':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, across processes."""
        self.db.execute('BEGIN IMMEDIATE')
        try:
            yield self.db
        except BaseException:
            self.db.execute('ROLLBACK')
            raise
        self.db.execute('COMMIT')

    # ------------------------------------------------------------------ subjects

    def set_subjects(self, experiment: str, subjects: list[tuple[str, str, str]]) -> None:
        """(subject, group, rig) of an experiment, as its file says now."""
        with self.transaction() as db:
            db.execute('DELETE FROM subjects WHERE experiment = ?', (experiment,))
            db.executemany('INSERT INTO subjects (experiment, subject, grp, rig) VALUES (?, ?, ?, ?)',
                           [(experiment, *s) for s in subjects])

    def subjects(self, experiment: str) -> list[dict]:
        return [dict(r) for r in self.db.execute(
            'SELECT subject, grp AS "group", rig FROM subjects WHERE experiment = ? ORDER BY subject',
            (experiment,))]

    # ------------------------------------------------------------------ sessions

    def start_session(self, experiment: str, subject: str, day: int, rig: str, paradigm: str,
                      pid: int | None = None) -> int:
        """A running session row, with the locks of its rig and subject taken at once
        (Busy when either is held by a live run)."""
        pid = os.getpid() if pid is None else pid
        with self.transaction() as db:
            for kind, name in (('rig', rig), ('subject', subject)):
                if kind == 'rig' and not name:
                    continue
                held = db.execute('SELECT * FROM locks WHERE kind = ? AND name = ?', (kind, name)).fetchone()
                if held is not None and self._holder_alive(held):
                    raise Busy(f'{kind} {name!r} is busy: {self.describe(held)}')
                db.execute('DELETE FROM locks WHERE kind = ? AND name = ?', (kind, name))
            started = now_iso()
            cur = db.execute('INSERT INTO sessions (experiment, subject, day, rig, paradigm, started, status, '
                             'pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
                             (experiment, subject, day, rig, paradigm, started, RUNNING, pid, self.host))
            session_id = int(cur.lastrowid)
            for kind, name in (('rig', rig), ('subject', subject)):
                if name:
                    db.execute('INSERT INTO locks (kind, name, experiment, pid, host, since, session_id) '
                               'VALUES (?, ?, ?, ?, ?, ?, ?)', (kind, name, experiment, pid, self.host, started,
                                                                session_id))
        return session_id

    def _holder_alive(self, lock: sqlite3.Row) -> bool:
        """A lock of another host counts as held (its process cannot be checked from here)."""
        return lock['host'] != self.host or pid_alive(lock['pid'])

    def describe(self, lock: sqlite3.Row) -> str:
        row = self.db.execute('SELECT subject, day, rig FROM sessions WHERE id = ?', (lock['session_id'],)
                              ).fetchone()
        if lock['session_id'] is None and lock['pid'] == 0:   # hold_remote: the rig has not reported the run yet
            return f'a start sent to {lock["host"]} ({lock["experiment"]}) since {lock["since"]}; wait for it'
        what = f'{row["subject"]} day {row["day"]} on {row["rig"] or "no rig"}' if row else 'a run'
        return (f'{what} ({lock["experiment"]}), process {lock["pid"]} on {lock["host"]} since {lock["since"]}; '
                'wait for it to end or stop it')

    def set_session_dir(self, session_id: int, session_dir: Path) -> None:
        with self.transaction() as db:
            db.execute('UPDATE sessions SET session_dir = ? WHERE id = ?', (str(session_dir), session_id))

    def update_session(self, session_id: int, record: dict) -> None:
        """Put a session's record (records.session_record) into its row."""
        keys = [k for k in SESSION_FIELDS if k in record and k not in ('experiment', 'subject', 'day', 'rig')]
        with self.transaction() as db:
            db.execute(f'UPDATE sessions SET {", ".join(f"{k} = ?" for k in keys)} WHERE id = ?',
                       [record[k] for k in keys] + [session_id])

    def release(self, session_id: int) -> None:
        with self.transaction() as db:
            db.execute('DELETE FROM locks WHERE session_id = ?', (session_id,))

    def insert_record(self, record: dict) -> None:
        """A finished or unfinished session row as rebuilt from its folder."""
        with self.transaction() as db:
            db.execute(f'INSERT INTO sessions ({", ".join(SESSION_FIELDS)}) VALUES '
                       f'({", ".join("?" for _ in SESSION_FIELDS)})', [record.get(k) for k in SESSION_FIELDS])

    def clear_sessions(self, experiment: str) -> None:
        """Remove the experiment's session rows, except those of runs still going."""
        with self.transaction() as db:
            db.execute('DELETE FROM sessions WHERE experiment = ? AND status != ?', (experiment, RUNNING))

    def sessions(self, experiment: str, subject: str | None = None) -> list[dict]:
        query = 'SELECT * FROM sessions WHERE experiment = ?' + (' AND subject = ?' if subject else '')
        args = (experiment, subject) if subject else (experiment,)
        return [dict(r) for r in self.db.execute(query + ' ORDER BY subject, day, started, id', args)]

    def session(self, session_id: int) -> dict:
        return dict(self.db.execute('SELECT * FROM sessions WHERE id = ?', (session_id,)).fetchone())

    def locks(self) -> list[dict]:
        return [dict(r) for r in self.db.execute('SELECT * FROM locks ORDER BY kind, name')]

    def import_remote(self, experiment: str, host: str, rows: list[dict]) -> None:
        """Replace the rows a rig computer's dashboard gave last time (`host` names that rig,
        never this computer) by the ones it gives now; a running one holds its subject here
        too, so no run on this computer takes that subject while it runs there. A row this
        registry holds already (the same session: a data root both computers share) is not doubled."""
        if host == self.host:
            raise RegistryError(f'{self.path}: rows of another computer cannot carry this computer\'s name {host!r}')
        with self.transaction() as db:
            # a start's pending hold (no session yet) stays until the rig reports that subject running
            # (its lock replaces the hold) or PENDING_HOLD_S pass (a run that ended at once)
            reported = {r.get('subject') for r in rows if r.get('status') == RUNNING}
            db.execute('DELETE FROM locks WHERE host = ? AND experiment = ? AND (session_id IS NOT NULL OR since < ?)',
                       (host, experiment, _ago(PENDING_HOLD_S)))
            db.executemany('DELETE FROM locks WHERE host = ? AND experiment = ? AND kind = ? AND name = ? '
                           'AND session_id IS NULL', [(host, experiment, 'subject', s) for s in reported])
            db.execute('DELETE FROM sessions WHERE experiment = ? AND host = ?', (experiment, host))
            for row in rows:
                if db.execute('SELECT 1 FROM sessions WHERE experiment = ? AND subject = ? AND day = ? AND rig = ? '
                              'AND started = ? AND host != ?', (experiment, row.get('subject'), row.get('day'),
                                                                row.get('rig'), row.get('started'), host)).fetchone():
                    continue   # a row this registry has itself (a data root both computers share)
                values = [experiment if k == 'experiment' else row.get(k) for k in SESSION_FIELDS]
                cur = db.execute(f'INSERT INTO sessions ({", ".join(SESSION_FIELDS)}, pid, host) VALUES '
                                 f'({", ".join("?" for _ in SESSION_FIELDS)}, ?, ?)', values + [row.get('pid'), host])
                if row.get('status') == RUNNING:
                    db.execute('INSERT OR IGNORE INTO locks (kind, name, experiment, pid, host, since, session_id) '
                               "VALUES ('subject', ?, ?, ?, ?, ?, ?)", (row['subject'], experiment, row.get('pid') or 0,
                                                                       host, row.get('started') or now_iso(),
                                                                       int(cur.lastrowid)))

    def hold_remote(self, experiment: str, subject: str, host: str) -> None:
        """Hold `subject` for a start sent to a rig computer (`host` names that rig), checked and
        taken in one transaction (Busy when it is held): until the rig reports the run (or
        PENDING_HOLD_S pass), no start of that subject anywhere this registry decides."""
        with self.transaction() as db:
            held = db.execute("SELECT * FROM locks WHERE kind = 'subject' AND name = ?", (subject,)).fetchone()
            if held is not None and self._holder_alive(held):
                raise Busy(f'subject {subject!r} is busy: {self.describe(held)}')
            db.execute("DELETE FROM locks WHERE kind = 'subject' AND name = ?", (subject,))
            db.execute("INSERT INTO locks (kind, name, experiment, pid, host, since, session_id) "
                       "VALUES ('subject', ?, ?, 0, ?, ?, NULL)", (subject, experiment, host, now_iso()))

    def drop_remote_hold(self, experiment: str, subject: str, host: str) -> None:
        """The start the hold was for did not happen (the rig refused or was not reached)."""
        with self.transaction() as db:
            db.execute("DELETE FROM locks WHERE kind = 'subject' AND name = ? AND experiment = ? AND host = ? "
                       "AND session_id IS NULL", (subject, experiment, host))

    def stale_runs(self) -> list[dict]:
        """Rows still 'running' whose process on this host is gone (killed, crashed)."""
        return [dict(r) for r in self.db.execute('SELECT * FROM sessions WHERE status = ? AND host = ?',
                                                 (RUNNING, self.host)) if not pid_alive(r['pid'])]

    def drop_stale_locks(self) -> int:
        # found and dropped in one transaction, each by its own holder: a lock another run has
        # just taken over (same kind and name, a live process) is never dropped
        with self.transaction() as db:
            stale = [(r['kind'], r['name'], r['pid'], r['session_id'])
                     for r in db.execute('SELECT * FROM locks WHERE host = ?', (self.host,))
                     if not pid_alive(r['pid'])]
            db.executemany('DELETE FROM locks WHERE kind = ? AND name = ? AND pid = ? AND session_id IS ?', stale)
        return len(stale)


def comparable(rows: list[dict]) -> list[tuple]:
    """Session rows as tuples of SESSION_FIELDS, in a fixed order (rebuilt == live)."""
    return sorted(tuple(r.get(k) for k in SESSION_FIELDS) for r in rows)
