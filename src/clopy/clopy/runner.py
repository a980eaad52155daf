"""`clopy run`: start a paradigm's nodes as separate processes (the same
executables and parameter file that `ros2 launch` uses), show progress, stop
them in a safe order, and finish the session folder.

Order: recorder first (nothing is missed), then reward, tone, task, roi_dff;
the camera starts only when every subscription is matched. Stopping goes the
other way: camera first, the pipeline drains, the recorder closes last.

`--composed`: camera, roi_dff (or pose and speed), task, tone and reward run in one
process (clopy.hotpath_node, named `hotpath`, started after the recorder and the lick
node); its camera waits for every subscription itself and it stops its nodes in the
same order inside. `--rt-priority N`: the hot-path processes ask for SCHED_FIFO.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from clopy_common import realtime
from clopy_common.session_end import ALL_TRIALS_DONE, END_OF_RECORDING, STOPPED_BY_USER
from clopy_common.session_end import exit_reason as node_exit_reason
from clopy_data.folder import BAG_METADATA, PARAMETERS, TONES_WAV, SessionFolder
from clopy_data.session import create_session_dir

from clopy import config as cfg
from clopy import foxglove_option, rig
from clopy.dashboard_process import DashboardProcess, check_port
from clopy.diskspace import check_free_space
from clopy.monitor import Monitor
from clopy.paradigms import HOT_PATH, NODES, PARADIGMS, compose
from clopy.profile import apply_profile
from clopy.processes import STOP_TIMEOUT_S, ProcessError, Session
from clopy.rig_check_report import attach_latest_report
from clopy.rosenv import RIG_KEYS, DomainBusy, DomainLease, apply_env, apply_loopback, loopback_env, rig_env

STARTUP_TIMEOUT_S = 60.0


class RunError(RuntimeError):
    """The session could not start or ended abnormally; the message says why."""


@dataclass
class RunOptions:
    paradigm: str
    sim: bool = False
    mouse: str | None = None       # None: the recording's subject on a re-run, else 'mouse'
    trials: int | None = None
    out_dir: Path = Path('sessions')
    sets: list[str] = field(default_factory=list)
    params_file: Path | None = None
    quiet: bool = False
    domain_id: int | None = None   # None: lease a free one for this run
    from_recording: Path | None = None   # re-run over a session, bag, HDF5, TIFF or video
    nodes: list[str] | None = None    # a rig: only these nodes run here (clopy.rig)
    remote: list[str] | None = None   # a rig: these run on the other computer, the rest here
    peers: list[str] | None = None    # CLOPY_NETWORK=rig: the other computers (else ROS_STATIC_PEERS)
    composed: bool = False   # the hot-path nodes in one process (clopy.hotpath_node)
    rt_priority: int | None = None   # SCHED_FIFO priority of the hot-path processes (clopy_common.realtime)
    foxglove_port: int | None = None   # --foxglove: the Foxglove bridge on this port (clopy.foxglove_option)
    dashboard: bool = False   # the browser dashboard as one more process (clopy_dashboard)
    dashboard_host: str = '127.0.0.1'   # any other bind address gets a token, printed once
    dashboard_port: int = 8080   # 0: any free port (the line `dashboard http://...` says which)


#: ends clopy run sees itself that are no error (a node's own SessionEnd says error or not)
NORMAL_ENDS = (ALL_TRIALS_DONE, END_OF_RECORDING, STOPPED_BY_USER, rig.ENDED_ELSEWHERE)


@dataclass
class RunResult:
    session_dir: Path
    status: dict
    exit_codes: dict
    reason: str             # why the session ended (the first SessionEnd), as the end line says
    recorded: bool = True   # False: the recorder ran on another computer (--nodes)
    error: bool = False     # the session ended abnormally (its SessionEnd had error=True)
    rewards_refused: int = 0
    rerun: bool = False     # --from: no mouse, simulated pins, task time faster than real time

    @property
    def ok(self) -> bool:
        """A normal end, and the mouse got every reward it earned (a re-run has no mouse:
        its valve commands can overlap a pulse still open, and the table records them)."""
        return not self.error and (self.rewards_refused == 0 or self.rerun)


def exit_reason(session: Session, name: str, code: int) -> tuple[str, str]:
    """(end reason, details for the console) of a node that exited, as clopy run sees
    it; a SessionEnd the node published itself comes first (Monitor.end)."""
    reason, error = node_exit_reason(name, code)
    if not error:
        return reason, ''
    if code <= 0:
        how = reason[reason.rindex('(') + 1:-1]
        return reason, f'{name} stopped unexpectedly ({how}):\n{session.log_tail(name)}'
    first = session.first_error(name) or f'exit {code}'
    if name == 'camera' and code == 2:
        return f'camera failed: {first}', f'camera could not start:\n{session.log_tail(name)}'
    return f'{name} failed: {first}', f'{name} stopped unexpectedly (exit {code}):\n{session.error_lines(name)}'


def check_paradigm(name: str) -> None:
    """ConfigError naming the paradigms of the manifest, for any other name."""
    if name not in PARADIGMS:
        raise cfg.ConfigError(f'unknown paradigm {name!r}; allowed: {", ".join(PARADIGMS)}')


def prepare(opts: RunOptions) -> tuple[Path, dict, Path]:
    """Check the configuration and create the session folder.
    Returns (session_dir, params, params_path)."""
    check_paradigm(opts.paradigm)
    source = None
    if opts.from_recording is not None:
        source = recording_source(Path(opts.from_recording))
        inherited = SessionFolder(opts.from_recording).parameters
        if opts.params_file is None and source[0] == 'bag' and inherited.is_file():
            _, old = cfg.load_params(opts.paradigm, inherited)
            if old.get('recorder', {}).get('paradigm') == opts.paradigm:
                opts.params_file = inherited
    path, params = cfg.load_params(opts.paradigm, opts.params_file)
    if source is not None:
        inherit_for_rerun(params, Path(opts.from_recording))
    if opts.sim:
        cfg.apply_simulation(params, opts.paradigm)  # before --set: an explicit setting wins
    mouse = opts.mouse or str(params.get('recorder', {}).get('mouse') or 'mouse')
    if source is None:   # what carries over from the mouse's last sessions (clopy.profile)
        apply_profile(params, Path(opts.out_dir), mouse, opts.paradigm)
    for assignment in opts.sets:
        cfg.apply_set(params, assignment)
    if opts.trials is not None:
        if opts.trials < 1:
            raise cfg.ConfigError(f'--trials {opts.trials}: must be >= 1')
        params.setdefault('task', {})['v.total_trials'] = int(opts.trials)
    if source is not None:
        # a re-run never drives hardware, and reads its frames from the recording
        params.setdefault('camera', {}).update(source=source[0], path=str(source[1]), pace='lockstep')
        params.setdefault('reward', {})['simulate'] = True
        if 'lick' in PARADIGMS[opts.paradigm].node_names:   # no lick sensor read either
            params.setdefault('lick', {})['simulate'] = True
        params.setdefault('tone', {})['backend'] = 'wav'
        params.setdefault('recorder', {}).update(record_images=False, rerun_of=str(opts.from_recording))
    cfg.validate(params, path)
    from clopy_task.files import resolve_task_file
    try:
        task_file = resolve_task_file(str(cfg.get(params, 'task', 'task_file', PARADIGMS[opts.paradigm].task_file)))
    except FileNotFoundError as exc:
        raise cfg.ConfigError(f'{path}: {exc}') from exc
    if records_here(opts):
        check_free_space(params, Path(opts.out_dir))
    start = datetime.now(timezone.utc).astimezone()
    try:
        session_dir = create_session_dir(Path(opts.out_dir), mouse, start, opts.paradigm)
    except (ValueError, OSError) as exc:
        raise cfg.ConfigError(f'--mouse {mouse!r} / --out {opts.out_dir}: {exc}') from exc
    if opts.from_recording is None:   # the newest `clopy rig check` of this rig (docs/hardware.md)
        attach_latest_report(Path(opts.out_dir), session_dir, opts.paradigm, opts.sim)
    tone = params.get('tone', {})
    if tone.get('backend') == 'wav' and not Path(str(tone.get('wav_path', ''))).is_absolute():
        tone['wav_path'] = str(session_dir / (tone.get('wav_path') or TONES_WAV))
    rec = params.setdefault('recorder', {})
    # the first frame goes out once roi_dff (and the recorder, when it keeps images) are connected
    required = PARADIGMS[opts.paradigm].required_subscribers(params)
    camera = params.setdefault('camera', {})
    camera['wait_for_subscribers'] = required['image_raw']
    # the graph's own start condition: the camera's first frame waits for every subscription
    camera['wait_for_topics'] = [f'{topic}:{count}' for topic, count in required.items()]
    rec.update(session_dir=str(session_dir), mouse=mouse, paradigm=opts.paradigm,
               task_file=str(task_file), session_type=str(cfg.get(params, 'task', 'v.session_type', '')))
    params_path = session_dir / PARAMETERS
    rec['param_file'] = str(params_path)
    try:
        cfg.write_params(params, params_path)
    except OSError as exc:   # a full disk, a folder that went read-only
        raise cfg.ConfigError(f'--out {opts.out_dir}: cannot write {params_path}: {exc}') from exc
    return session_dir, params, params_path


def records_here(opts: RunOptions) -> bool:
    """The recorder runs on this computer (not named by --remote, or named by --nodes)."""
    return 'recorder' not in (opts.remote or []) and (opts.nodes is None or 'recorder' in opts.nodes)


VIDEO_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov', '.mj2')


def recording_source(path: Path) -> tuple[str, Path]:
    """(camera source kind, path) for a recording given to --from."""
    if path.is_dir():
        if SessionFolder(path).bag_closed or (path / BAG_METADATA).is_file():
            return 'bag', path   # the camera's source kind
        raise cfg.ConfigError(f'--from {path}: a folder, but neither a session folder (bag/) nor a bag')
    suffix = path.suffix.lower()
    if not path.is_file():
        raise cfg.ConfigError(f'--from {path}: no such file or folder')
    if suffix in ('.hdf5', '.h5'):
        return 'hdf5', path
    if suffix in ('.tif', '.tiff'):
        return 'tiff', path
    if suffix in VIDEO_SUFFIXES:
        return 'video', path
    raise cfg.ConfigError(f'--from {path}: unknown recording type {suffix!r}; allowed: a session folder, a '
                          f'bag folder, .hdf5 (original CLoPy image_stream.hdf5), .tif/.tiff, '
                          f'{", ".join(VIDEO_SUFFIXES)}')


def inherit_for_rerun(params: dict, source: Path) -> None:
    """Parameters taken over from a recorded session: drop what belonged to that
    run (its folder, files, WAV) and run the task file it archived."""
    rec = params.setdefault('recorder', {})
    for key in ('session_dir', 'param_file', 'task_file'):
        archived_task = Path(str(rec.get('task_file', ''))).name if key == 'task_file' else ''
        rec.pop(key, None)
        if archived_task and (source / archived_task).is_file():
            params.setdefault('task', {})['task_file'] = str(source / archived_task)
    params.setdefault('tone', {})['wav_path'] = TONES_WAV


def progress_line(status: dict) -> str:
    if not status:
        return 'waiting for the first frame...'
    state = 'STALLED' if status.get('stalled') else status['state']
    refused = f"  REFUSED {status['rewards_refused']}" if status.get('rewards_refused') else ''
    return (f"{state:<13} trial {status['trial']}/{status['total_trials']}  "
            f"successes {status['successes']}  valve {status['rewards_delivered']}{refused}  "
            f"fails {status['failures']}  threshold {status['threshold']:.4g}  {status['frame_rate_hz']:.1f} fps  "
            f"dropped {status['dropped_frames']}  t {status['elapsed_s']:.0f} s")


def lease_domain(opts: RunOptions) -> tuple[DomainLease, DomainLease]:
    """The domain of this run (a free one, or --domain-id) and the right to run the one
    graph on it; refused (RunError naming the domain and its holder) before anything starts."""
    label = f'clopy run {opts.paradigm}'
    skipped: list[DomainLease] = []  # free IDs whose graph lock is held (a launched graph)
    try:
        while True:
            lease = DomainLease(opts.domain_id, label=label)
            try:
                domain_id = lease.acquire()
            except DomainBusy as exc:
                raise RunError(str(exc)) from None
            graph = DomainLease(domain_id, label=label, kind='graph')
            try:
                graph.acquire()
                return lease, graph
            except DomainBusy as exc:
                if opts.domain_id is not None:
                    lease.release()
                    raise RunError(str(exc)) from None
                skipped.append(lease)
    finally:
        for lease in skipped:
            lease.release()


def run(opts: RunOptions, stop_event: threading.Event | None = None) -> RunResult:
    """Run one session to its end (task done, end of the recording, Ctrl-C)."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    check_paradigm(opts.paradigm)
    if opts.dashboard:   # before anything starts: the page's address is free
        check_port(opts.dashboard_host, opts.dashboard_port)
    nodes, remote = rig.split_nodes(opts.paradigm, PARADIGMS[opts.paradigm].entries(),
                                    opts.nodes, opts.remote)
    network, peers = rig.rig_peers(opts.peers)
    if remote and opts.domain_id is None:
        raise cfg.ConfigError(f'--remote/--nodes ({", ".join(remote)} elsewhere): give --domain-id, the same '
                              'number on every computer of the rig')
    hot: list[str] = []   # the nodes of the hot-path process (--composed)
    if opts.composed:
        nodes, hot = compose(nodes)
    foxglove_option.check_port(opts.foxglove_port)
    lease, graph = lease_domain(opts)
    domain_id = lease.domain_id
    try:
        session_dir, params, params_path = prepare(opts)
        profile = rig.write_rig_profile(session_dir, peers) if network == 'rig' else None
    except BaseException:
        graph.release()
        lease.release()
        raise
    graph.relabel(f'the session {session_dir}')
    say = (lambda *a, **k: None) if opts.quiet else (lambda *a, **k: print(*a, **k, flush=True))
    stop_event = stop_event or threading.Event()
    saved_env = dict(os.environ)
    if profile is None:
        env = loopback_env(domain_id)
        apply_loopback(domain_id)
    else:
        env = rig_env(domain_id, peers, profile)
        apply_env(env, RIG_KEYS)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    session = Session(session_dir, params_path, env)
    required = PARADIGMS[opts.paradigm].required_subscribers(params)
    # a rig: the other computer's runner is in the graph too: a name of its own
    tty = sys.stdout.isatty()

    def alert(kind: str, subtype: str, content: str) -> None:   # a task warning or error, one line
        line = f'{kind.upper()} {subtype}: {content}'
        say(('\r' + line.ljust(110)) if tty else line)

    monitor = Monitor(on_alert=alert) if not remote else Monitor(f'clopy_run_monitor_{os.getpid()}', alert)
    camera = [e for e in nodes if e[2] == 'camera']   # none when composed: the hot-path process has it
    rt_env = {realtime.ENV: str(opts.rt_priority)} if opts.rt_priority else {}

    def start(package: str, exe: str, name: str) -> None:
        on_hot_path = name == HOT_PATH[2] or bool(NODES[name].component)
        session.start(package, exe, name, nodes=hot if name == HOT_PATH[2] else None,
                      env=rt_env if on_hot_path else None)

    reason = 'finished'
    details = ''
    codes: dict = {}
    dashboard = DashboardProcess(session, session_dir, params_path, opts.dashboard_host, opts.dashboard_port, say,
                                 enabled=opts.dashboard)
    try:
        say(f'session {session_dir}  (ROS_DOMAIN_ID={domain_id}, '
            f'{"loopback only" if profile is None else "rig network, peers " + ";".join(peers)}'
            f'{", simulation" if opts.sim else ""})')
        if remote:
            say(f'here: {", ".join(e[2] for e in nodes)}; on the other computer: {", ".join(remote)}')
        if hot:
            say(f'composed: {", ".join(hot)} in one process ({HOT_PATH[2]})')
        dashboard.start()
        for entry in [e for e in nodes if e[2] != 'camera']:
            start(*entry)
        # the camera waits until every subscription is matched
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            crashed = dashboard.check(session.exited())   # a viewer never ends the session
            if crashed:
                name, code = next(iter(crashed.items()))
                raise RunError(f'{name} stopped during start-up (exit {code}):\n{session.log_tail(name)}')
            missing = monitor.unmatched(required)
            absent = monitor.absent(remote)
            dashboard.announce()
            if not missing and not absent:
                break
            if stop_event.is_set():
                raise RunError('stopped by the user during start-up')
            if time.monotonic() > deadline:
                raise RunError(f'start-up timed out; topics without their subscribers: {missing}'
                               + (f'; not seen on the other computer: {absent}' if absent else ''))
            monitor.spin(0.1)
        foxglove_option.start(session, opts.foxglove_port, say)   # after the start condition: never a subscriber
        for entry in camera:
            start(*entry)
        last_print = 0.0
        while not stop_event.is_set():
            monitor.spin(0.1)
            ended = foxglove_option.session_enders(dashboard.check(session.exited()))
            if ended:
                monitor.spin(0.3)   # the SessionEnd of a node that ended the session is on its way
                name = next((n for n in ('task', 'camera') if n in ended), next(iter(ended)))
                code = ended[name]
                reason, details = exit_reason(session, name, code)
                break
            if remote:
                ended_there = rig.remote_end(remote, monitor.absent(remote), monitor.was_running, monitor.status)
                if ended_there:
                    reason = ended_there
                    break
            now = time.monotonic()
            if tty:
                print('\r' + progress_line(monitor.status).ljust(110), end='', flush=True)
            elif not opts.quiet and now - last_print > 10:
                say(progress_line(monitor.status))
                last_print = now
        else:
            reason = STOPPED_BY_USER
        if tty:
            print()
    except (RunError, ProcessError) as exc:
        reason = f'error: {exc}'
    finally:
        # what only clopy run saw goes on record before anything stops
        if monitor.session_end is not None and not reason.startswith('error: '):
            details = ''   # the node said why itself: its exit is no failure
        monitor.end(reason.splitlines()[0] if reason else reason, error=reason not in NORMAL_ENDS)
        end = dict(monitor.session_end)
        dashboard.stop()   # the page goes first: nothing of the session waits on it
        if 'camera' in remote and monitor.was_running and not monitor.status.get('running', True):
            monitor.wait_gone(['camera'], STOP_TIMEOUT_S / 2)   # it stops when the task is done
            time.sleep(0.5)   # then the last frames drain, as when the camera runs here
        codes = session.stop_all()
        monitor.spin(0.2)
        status = dict(monitor.status)
        refused = monitor.refused
        monitor.close()
        rclpy.shutdown()
        graph.release()
        lease.release()
        os.environ.clear()
        os.environ.update(saved_env)
    if details:
        say(details)
    if reason == rig.ENDED_ELSEWHERE:
        shown = reason + (f' ({end["reason"]})' if end['reason'] != reason else '')
    else:
        shown = end['reason'] if not reason.startswith('error: ') else reason
    rerun = opts.from_recording is not None
    say(f'session ended: {shown}' + (' (error)' if end['error'] else '')
        + (f'; {refused} valve commands refused' if refused else '')
        + (' (a re-run is faster than real time: a pulse can still be open at the next command)'
           if refused and rerun else ''))
    return RunResult(session_dir, status, codes, shown, recorded=any(e[2] == 'recorder' for e in nodes),
                     error=bool(end['error']), rewards_refused=refused, rerun=rerun)
