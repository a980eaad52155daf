"""The `clopy` command.

  clopy run PARADIGM [--sim] [--mouse ID] [--trials N] [--out DIR] [--set node.param=value ...]
            [--nodes N,N | --remote N,N] [--peers ADDRESS,...]   (a rig of several computers)
  clopy rig check PARADIGM [--sim] [--latency]   try each configured device, write a rig report
  clopy demo                 a few minutes of simulated CLNF 1-ROI
  clopy tables SESSION       make the per-frame table and summary again from the bag
  clopy align SESSION RECORD map another system's sync-pulse record onto session time (docs/sync.md)
  clopy run ... --dashboard [--dashboard-port N]   the browser dashboard of the session (docs/dashboard.md)
"""
from __future__ import annotations

import argparse
import importlib
from importlib import metadata
import signal
import sys
import threading
from pathlib import Path

from clopy_data.commands import add_commands as add_data_commands
from clopy_data.folder import SessionFolder
from clopy_data.postprocess import finish_session, print_summary, read_summary_row

from clopy import config as cfg
from clopy import foxglove_option
from clopy.dashboard_process import DEFAULT_HOST, DEFAULT_PORT, parse_port

# bringup commands that live in their own modules (each has add_command(sub)); the offline
# data commands (tables, plot, analyze) come from clopy_data, as `python -m clopy_data` has them
COMMAND_MODULES = ('clopy_data.threshold_sim', 'clopy.replay', 'clopy.pose_model',
                   'clopy.rig_check', 'clopy.parts_command')
#: entry-point group of modules with add_command(sub) from packages that use bringup
#: (clopy_dashboard: `clopy dashboard`, `clopy experiment`)
COMMAND_GROUP = 'clopy.commands'

DEMO_SETTINGS = [
    # a short, lively session: 6 trials of at most 15 s, rests of 5 s
    'task.v.initial_rest_s=8.0', 'task.v.max_trial_s=15.0', 'task.v.success_rest_s=5.0',
    'task.v.fail_rest_s=5.0', 'camera.synthetic.target_rate_hz=0.5',
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='clopy', description='CLoPy-ROS closed-loop training sessions.')
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('run', help='run a session of a paradigm')
    run.add_argument('paradigm', help=f'one of {", ".join(cfg.PARADIGMS)}')
    _session_options(run)
    _rig_options(run)
    foxglove_option.add_arguments(run)
    demo = sub.add_parser('demo', help='a short simulated CLNF 1-ROI session')
    _session_options(demo, demo=True)
    # commands that live in their own modules: each adds its parser with set_defaults(func=...)
    add_data_commands(sub)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_command(sub)
    # packages above bringup (the dashboard) offer commands through an entry-point group
    for entry in sorted(metadata.entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        entry.load().add_command(sub)
    return parser


def _session_options(p: argparse.ArgumentParser, demo: bool = False) -> None:
    if not demo:
        p.add_argument('--sim', action='store_true',
                       help='simulation: synthetic camera, WAV-file audio, mock GPIO pins')
        p.add_argument('--from', dest='from_recording', type=Path, metavar='RECORDING',
                       help='re-run over a recording (session folder, bag, image_stream.hdf5, TIFF or '
                            'video) as fast as the graph allows, with WAV audio and mock pins')
    p.add_argument('--mouse', default='demo-mouse' if demo else None,
                   help="subject id (default: the recording's on a re-run, else 'mouse')")
    p.add_argument('--trials', type=int, default=6 if demo else None, help='stop after N trials')
    p.add_argument('--out', type=Path, default=Path('sessions'), help='folder for session folders')
    p.add_argument('--set', dest='sets', action='append', default=[], metavar='NODE.PARAM=VALUE',
                   help='override a parameter, e.g. task.v.threshold=0.08 (repeatable)')
    p.add_argument('--params-file', type=Path, help='parameter file instead of config/<paradigm>.yaml')
    p.add_argument('--domain-id', type=int, choices=range(0, 233), metavar='0-232',
                   help='ROS_DOMAIN_ID for this session (default: a free one, printed at the start); '
                        'use it to reach the session with ros2 param / ros2 service')
    p.add_argument('--composed', action='store_true',
                   help='run camera, signal, task, tone and reward in one process on one executor (the '
                        'fastest closed loop; the recorder stays apart); default: a process per node')
    p.add_argument('--rt-priority', type=int, choices=range(1, 100), metavar='1-99',
                   help='real-time priority (SCHED_FIFO) for the hot-path processes, where the rig '
                        'permits it (docs/benchmarks.md); said in the node log when it does not')
    p.add_argument('--dashboard', action='store_true',
                   help='serve the browser dashboard of the session (watch, steer); prints its address')
    p.add_argument('--dashboard-port', type=_port, default=DEFAULT_PORT, metavar='N',
                   help=f'port of the dashboard (default {DEFAULT_PORT}; 0 or auto: any free port)')
    p.add_argument('--dashboard-host', default=DEFAULT_HOST, metavar='ADDRESS',
                   help='bind address of the dashboard (default 127.0.0.1; any other prints a token once)')


def _port(text: str) -> int:
    try:
        return parse_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rig_options(p: argparse.ArgumentParser) -> None:
    from clopy.rig import parse_names
    rig = p.add_argument_group('a rig of several computers (README: "Rig with several computers")')
    which = rig.add_mutually_exclusive_group()
    which.add_argument('--nodes', type=parse_names, metavar='NODE,NODE',
                       help='start only these nodes here (e.g. camera,pose on the camera computer); the '
                            'session computer runs the rest with --remote; needs --domain-id')
    which.add_argument('--remote', type=parse_names, metavar='NODE,NODE',
                       help='these nodes run on another computer: start the others, wait for those to appear '
                            'instead of starting them; needs --domain-id')
    rig.add_argument('--peers', type=parse_names, metavar='ADDRESS,ADDRESS',
                     help='with CLOPY_NETWORK=rig: the other computers; discovery reaches this computer and '
                          'them only (default: ROS_STATIC_PEERS)')


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, 'func', None) is not None:
        return int(args.func(args) or 0)
    from clopy.runner import RunOptions
    if args.command == 'demo':
        opts = RunOptions('clnf_1roi', sim=True, mouse=args.mouse, trials=args.trials, out_dir=args.out,
                          sets=DEMO_SETTINGS + args.sets, params_file=args.params_file,
                          domain_id=args.domain_id, composed=args.composed, rt_priority=args.rt_priority,
                          dashboard=args.dashboard, dashboard_host=args.dashboard_host,
                          dashboard_port=args.dashboard_port)
    else:
        opts = RunOptions(args.paradigm, sim=args.sim, mouse=args.mouse, trials=args.trials,
                          out_dir=args.out, sets=args.sets, params_file=args.params_file,
                          domain_id=args.domain_id, from_recording=args.from_recording,
                          nodes=args.nodes, remote=args.remote, peers=args.peers, composed=args.composed,
                          rt_priority=args.rt_priority, foxglove_port=foxglove_option.port_from_args(args),
                          dashboard=args.dashboard, dashboard_host=args.dashboard_host,
                          dashboard_port=args.dashboard_port)
    return run_session(opts)[0]


def run_session(opts) -> tuple[int, Path | None, str]:
    """Run one session as `clopy run` does (Ctrl-C / SIGTERM stop it in order), finish its
    folder and print its summary; (exit code, session folder or None when none was made,
    the error when it could not run). The experiment manager runs its sessions with it."""
    from clopy.runner import RunError, run
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            print('still stopping: the camera first, the recorder last; each node has at most 10 s, '
                  'the recorder 60 s (it closes the bag, then makes the table and figure)',
                  file=sys.stderr, flush=True)
            return
        print('\nstopping...', file=sys.stderr, flush=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        result = run(opts, stop)
    except (cfg.ConfigError, RunError) as exc:
        print(f'clopy: {exc}', file=sys.stderr)
        return 2, None, str(exc)
    if not result.recorded:   # --nodes without the recorder: the record is on the other computer
        print(f'node logs: {result.session_dir / "logs"}')
        return (0 if result.ok else 1), result.session_dir, ''
    # the recorder finished the folder (table, summary row, figure) when it closed;
    # when it could not (killed), it is done here
    csv_path = SessionFolder.sessions_summary(opts.out_dir)
    summary = read_summary_row(csv_path, result.session_dir)
    folder = SessionFolder(result.session_dir)
    if summary is None:
        try:
            summary = finish_session(result.session_dir, csv_path, rerun_of=str(opts.from_recording or ''),
                                     end=(result.reason, result.error))
        except Exception as exc:  # noqa: BLE001 - the recording is safe; say what failed
            print(f'clopy: the recording is in {result.session_dir}, but its tables could not be made: {exc}; '
                  f'`clopy tables {result.session_dir}` finishes the folder (free space first if the disk is full)',
                  file=sys.stderr)
            return 1, result.session_dir, str(exc)
    print_summary(summary)
    if not folder.summary_figure.is_file():
        try:
            from clopy_data.plots import session_figure
            session_figure(result.session_dir)
        except Exception as exc:  # noqa: BLE001 - a figure is never worth failing a session for
            print(f'clopy: no summary figure ({exc}); try `clopy plot {result.session_dir}`', file=sys.stderr)
    if folder.summary_figure.is_file():
        print(f'figure: {folder.summary_figure}')
    print(f'session folder: {result.session_dir}')
    return (0 if result.ok else 1), result.session_dir, ''


if __name__ == '__main__':
    sys.exit(main())
