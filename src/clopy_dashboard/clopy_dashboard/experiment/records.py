"""Session rows from session folders: the one place a registry row is derived, both
for the live registry (after a run, or when a run died) and for `clopy experiment
rebuild` (from the folders alone), so the two agree.

A session of an experiment has ``experiment.yaml`` in its folder (experiment, subject,
group, day, rig, paradigm); the numbers come from its summary row in
``<data_root>/sessions_summary.csv`` (clopy_data.postprocess). Plain Python."""
from __future__ import annotations

import math
from pathlib import Path

import yaml

from clopy_common.session_end import STOPPED_BY_USER
from clopy_data.folder import PARAMETERS, SessionFolder
from clopy_data.postprocess import UNKNOWN_END, read_summary_row
from clopy_data.session import read_event_log, session_info

from clopy_dashboard.experiment.registry import FINISHED, RUNNING, UNFINISHED, Registry

#: the end reason of a folder without its summary row
CUT_SHORT = ('cut short: no summary row (the run was killed or crashed before the folder was finished); '
             '`clopy tables {path}` finishes it')
#: the end reason of a run that died before its session folder was made
DIED_BEFORE_FOLDER = 'the run process {pid} ended before its session folder was made'


def write_sidecar(session_dir: Path, experiment: str, subject: str, group: str, day: int, rig: str,
                  paradigm: str) -> None:
    SessionFolder(session_dir).experiment.write_text(
        '# This session belongs to an experiment (written by clopy experiment run)\n' + yaml.safe_dump(
            {'experiment': experiment, 'subject': subject, 'group': group, 'day': int(day), 'rig': rig,
             'paradigm': paradigm}, sort_keys=False), encoding='utf-8')


def read_sidecar(session_dir: Path) -> dict | None:
    try:
        data = yaml.safe_load(SessionFolder(session_dir).experiment.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) and {'experiment', 'subject', 'day'} <= set(data) else None


def _number(value, kind=float):
    try:
        x = kind(value)
    except (TypeError, ValueError):
        return None
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _is_error(value) -> bool:
    return str(value).strip().lower() in ('true', '1')


def session_record(session_dir: Path) -> dict:
    """What the folder says of its session: started, ended, status (finished: every
    planned trial ran and the end was no error; else unfinished, with the reason),
    end_reason, trials, successes, rewards, water_ul, final_threshold."""
    folder = SessionFolder(Path(session_dir).absolute())
    row = read_summary_row(folder.default_sessions_summary, folder.path)
    if row is None:
        try:
            started = session_info(read_event_log(folder.events)).get('start_time', '')
        except (OSError, ValueError):
            started = ''
        return {'session_dir': str(folder.path), 'started': started, 'ended': '', 'status': UNFINISHED,
                'end_reason': CUT_SHORT.format(path=folder.path), 'trials': None, 'successes': None,
                'rewards': None, 'water_ul': None, 'final_threshold': None}
    reason = str(row.get('end_reason') or UNKNOWN_END)
    error = _is_error(row.get('end_error'))
    ok = not error and reason not in (STOPPED_BY_USER, UNKNOWN_END)
    return {'session_dir': str(folder.path), 'started': str(row.get('start') or ''),
            'ended': str(row.get('end') or ''), 'status': FINISHED if ok else UNFINISHED,
            'end_reason': reason + (' (error)' if error else ''),
            'trials': _number(row.get('trials'), int), 'successes': _number(row.get('successes'), int),
            'rewards': _number(row.get('rewards'), int), 'water_ul': _number(row.get('water_ul')),
            'final_threshold': _number(row.get('final_threshold'))}


def experiment_folders(data_root: Path, experiment: str) -> list[Path]:
    """Session folders under the data root that belong to the experiment (by experiment.yaml)."""
    found = []
    for marker in sorted(Path(data_root).glob(f'*/*/{SessionFolder("x").experiment.name}')):
        meta = read_sidecar(marker.parent)
        if meta is not None and meta['experiment'] == experiment and (marker.parent / PARAMETERS).is_file():
            found.append(marker.parent.absolute())
    return found


def folder_row(session_dir: Path) -> dict:
    """A full session row of an experiment's folder (sidecar + record)."""
    meta = read_sidecar(session_dir) or {}
    return {'experiment': meta.get('experiment'), 'subject': meta.get('subject'), 'day': int(meta.get('day', 0)),
            'rig': str(meta.get('rig') or ''), 'paradigm': str(meta.get('paradigm') or ''),
            **session_record(session_dir)}


def rebuild(registry: Registry, experiment: str, subjects: list[tuple[str, str, str]]) -> int:
    """Replace the experiment's rows by those of its folders (a running session of a
    live process keeps its row); returns the number of sessions found."""
    refresh(registry)
    running = {r['session_dir'] for r in registry.sessions(experiment) if r['status'] == RUNNING}
    folders = [f for f in experiment_folders(registry.data_root, experiment) if str(f) not in running]
    registry.clear_sessions(experiment)
    registry.set_subjects(experiment, subjects)
    for folder in folders:
        registry.insert_record(folder_row(folder))
    return len(folders)


def refresh(registry: Registry) -> list[dict]:
    """Make the registry consistent after a run died (killed, crashed, the computer went
    down): its row becomes unfinished with the reason its folder gives, its locks are
    freed; unfinished rows with a folder are read again (a folder finished since by
    `clopy tables`). Returns the rows that were still marked running."""
    stale = registry.stale_runs()
    for row in stale:
        if row['session_dir']:
            record = session_record(Path(row['session_dir']))
        else:
            record = {'status': UNFINISHED, 'end_reason': DIED_BEFORE_FOLDER.format(pid=row['pid'])}
        registry.update_session(row['id'], record)
        registry.release(row['id'])
    for row in registry.db.execute('SELECT id, session_dir, status FROM sessions WHERE status = ? AND '
                                   "session_dir != ''", (UNFINISHED,)).fetchall():
        if Path(row['session_dir']).is_dir():
            registry.update_session(row['id'], session_record(Path(row['session_dir'])))
    registry.drop_stale_locks()
    return stale
