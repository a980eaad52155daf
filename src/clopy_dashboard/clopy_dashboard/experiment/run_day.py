"""`clopy experiment run`: one subject's day of an experiment on a rig.

The day's plan entry becomes the options of `clopy run` (paradigm, `--set` settings,
trials, the rig's ROS domain, the data root as `--out`), run by the same function
`clopy run` uses (clopy.cli.run_session: summary, figure, Ctrl-C). Around it: the
registry row and the rig and subject locks, ``experiment.yaml`` in the session folder
as soon as the folder appears, and afterwards the row from the folder and the
persistent variables into the mouse profile (the threshold the mouse ended with:
its next session of that paradigm starts there). Plain Python; the graph is started
by clopy.runner."""
from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

from clopy.profile import profile_path, update_profile
from clopy.runner import RunOptions
from clopy_data.folder import PARAMETERS
from clopy_data.session import is_session_of

from clopy_dashboard.experiment import records
from clopy_dashboard.experiment.definition import Experiment, ExperimentError
from clopy_dashboard.experiment.pairing import RIG_ENV, local_rigs
from clopy_dashboard.experiment.registry import FINISHED, Busy, Registry

#: exit status of a run refused because its rig or subject is busy
BUSY_EXIT = 3


def run_options(exp: Experiment, subject: str, day: int, rig: str | None, sim: bool | None,
                data_root: Path) -> RunOptions:
    """The `clopy run` options of a subject's day."""
    plan = exp.plan_for(subject, day)
    rig_name = rig or exp.subject(subject).rig
    if not rig_name:
        raise ExperimentError(f'{exp.path}: subject {subject} has no rig; give --rig ({", ".join(exp.rigs)})')
    check_rig_here(exp, rig_name)
    return RunOptions(plan.paradigm, sim=exp.sim if sim is None else sim, mouse=subject, trials=plan.trials,
                      out_dir=Path(data_root), sets=plan.settings(), domain_id=exp.rig(rig_name).domain_id)


def check_rig_here(exp: Experiment, rig_name: str) -> None:
    """ExperimentError when the rig names another computer: its session runs there (`clopy
    experiment run` on that computer), never here, where it would drive this computer's valve
    and camera. Names are compared as written (no lookup: nothing leaves this computer); a
    computer that is a rig's host by another name says so with CLOPY_RIG (`clopy dashboard --rig`)."""
    host = exp.rig(rig_name).host.strip().lower()
    if not host or rig_name in local_rigs():
        return
    here = {socket.gethostname().lower(), socket.getfqdn().lower(), 'localhost', '127.0.0.1', '::1'}
    here |= {name.split('.', 1)[0] for name in here}
    if host not in here and host.split('.', 1)[0] not in here:
        how = (f'start it from a dashboard that has its address ({exp.rig(rig_name).dashboard}), or '
               if exp.rig(rig_name).dashboard else '')
        raise ExperimentError(f'{exp.path}: rig {rig_name!r} is on {host!r}, not this computer '
                              f'({socket.gethostname()}): {how}run `clopy experiment run {exp.name} ...` on {host} '
                              f'(a computer that is {host} by another name: {RIG_ENV}={rig_name})')


class _FolderWatch(threading.Thread):
    """Finds the session folder clopy run makes (a new <paradigm>/<subject>_* folder with
    parameters.yaml: the subject lock makes it the only one) and marks it as this
    experiment's at once, so even a run killed mid-session leaves a folder the registry
    knows and `rebuild` finds."""

    def __init__(self, data_root: Path, paradigm: str, subject: str, mark) -> None:
        super().__init__(daemon=True, name='experiment-folder-watch')
        self.pattern = (Path(data_root) / paradigm, f'{subject}_*')
        self.before = set(self._candidates())
        self.mark = mark
        self.found: Path | None = None
        self.done = threading.Event()

    def _candidates(self) -> list[Path]:
        folder, glob = self.pattern
        subject = glob[:-2]
        return [p for p in folder.glob(glob) if is_session_of(p.name, subject) and (p / PARAMETERS).is_file()
                ] if folder.is_dir() else []

    def take(self, path: Path) -> None:
        if self.found is None:
            self.found = path
            self.mark(path)

    def run(self) -> None:
        while not self.done.wait(0.2):
            new = [p for p in self._candidates() if p not in self.before]
            if new:
                self.take(new[0])
                return


def run_day(exp: Experiment, subject: str, day: int, data_root: Path, rig: str | None = None,
            sim: bool | None = None) -> int:
    """Run the day; the exit status of clopy run (BUSY_EXIT when refused)."""
    from clopy.cli import run_session
    data_root = Path(data_root).absolute()
    opts = run_options(exp, subject, day, rig, sim, data_root)
    rig_name = rig or exp.subject(subject).rig
    group = exp.subject(subject).group
    registry = Registry(data_root)
    try:
        records.refresh(registry)
        registry.set_subjects(exp.name, [(s.id, s.group, s.rig) for s in exp.subjects.values()])
        try:
            session_id = registry.start_session(exp.name, subject, day, rig_name, opts.paradigm)
        except Busy as exc:
            print(f'clopy experiment: {exc}', file=sys.stderr)
            return BUSY_EXIT
        print(f'{exp.name}: {subject} ({group}) day {day} on {rig_name} (ROS_DOMAIN_ID={opts.domain_id}): '
              f'{exp.plan_for(subject, day).label}, {opts.paradigm}', flush=True)

        def mark(path: Path) -> None:
            records.write_sidecar(path, exp.name, subject, group, day, rig_name, opts.paradigm)
            with Registry(data_root) as own:   # this thread's own connection
                own.set_session_dir(session_id, path.absolute())

        watch = _FolderWatch(data_root, opts.paradigm, subject, mark)
        watch.start()
        code, session_dir = 2, None
        try:
            code, session_dir, _ = run_session(opts)
        finally:
            watch.done.set()
            watch.join()
            if session_dir is not None:
                watch.take(Path(session_dir))
            # a simulated day carries its threshold over only in a simulated experiment (a --sim
            # try of a real one never moves the real mouse's start)
            finish(registry, session_id, watch.found, data_root, subject, opts.paradigm,
                   carry=exp.sim or not opts.sim)
        return code
    finally:
        registry.close()


def finish(registry: Registry, session_id: int, session_dir: Path | None, data_root: Path,
           subject: str, paradigm: str, carry: bool = True) -> None:
    """The row from the folder, the locks freed, the persistent variables carried over.
    A run that made no folder leaves no row (nothing ran; the console said why)."""
    try:
        if session_dir is None:
            registry.db.execute('DELETE FROM sessions WHERE id = ?', (session_id,))
            return
        record = records.session_record(session_dir)
        registry.update_session(session_id, record)
        if carry and record.get('status') == FINISHED:   # a session cut short sets no start
            carry_over(data_root, subject, paradigm, record)
        elif record.get('final_threshold') is not None:
            print(f'{subject}: the threshold this session ended with is not carried over '
                  f'({"cut short" if record.get("status") != FINISHED else "a simulated try"})')
    finally:
        registry.release(session_id)


def carry_over(data_root: Path, subject: str, paradigm: str, record: dict) -> None:
    """The threshold the session ended with becomes the start of the subject's next
    session of the paradigm (clopy.profile)."""
    threshold = record.get('final_threshold')
    if threshold is not None:
        update_profile(data_root, subject, paradigm=paradigm, paradigm_parameters={'task.v.threshold': threshold})
        print(f'{subject}: the next {paradigm} session starts at threshold {threshold:g} '
              f'({profile_path(data_root, subject)})')
