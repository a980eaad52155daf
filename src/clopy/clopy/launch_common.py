"""What every paradigm's launch file starts: the same executables, with the same
effective parameters and the same session folder, that `clopy run` starts.

At launch time (an OpaqueFunction, before any node process exists) the launch file
runs the same preparation as `clopy run`: it leases the ROS domain (one graph per
domain), reads the paradigm's parameter file, applies `sim:=true` (exactly
`clopy run --sim`), `trials:=N` and `set:=` overrides, checks everything, creates the
session folder and writes `parameters.yaml` there. Every node then reads that one
file, so the folder records what ran, `tones.wav` and the node logs land in the
folder, and a bad value stops the launch before anything starts.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

# Leases held by the `ros2 launch` process for as long as it runs (the kernel frees
# them when it exits).
_HELD: list = []

# the session ends when one of these exits: no trials left, no frames, no valve, no record, no lick
# sensor; the hot-path process (composed:=true) holds the first four of them
SESSION_ENDERS = ('task', 'recorder', 'reward', 'camera', 'lick', 'hotpath')


def paradigm_launch_description(paradigm: str):
    """LaunchDescription for `ros2 launch clopy <paradigm>.launch.py`.

    Arguments: mouse, out_dir, sim (true: synthetic camera, WAV audio, mock pins),
    trials, params_file (default share/clopy/config/<paradigm>.yaml), set
    (space-separated node.param=value overrides, as `clopy run --set`), composed
    (true: the hot-path nodes in one process, as `clopy run --composed`) and rt_priority
    (as `clopy run --rt-priority`), dashboard (true: the browser dashboard, as `clopy run
    --dashboard`) with dashboard_port and dashboard_host. The session
    ends when the task node finishes (all trials done), or when the camera, the
    reward node, the lick node or the recorder stops (no frames, no valve, no lick sensor,
    no record)."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    from clopy import foxglove_option

    args = [
        DeclareLaunchArgument('params_file', default_value='',
                              description='parameter file (default: the paradigm\'s own)'),
        DeclareLaunchArgument('mouse', default_value='mouse', description='subject id'),
        DeclareLaunchArgument('out_dir', default_value=os.path.join(os.path.expanduser('~'), 'clopy_sessions'),
                              description='folder for session folders'),
        DeclareLaunchArgument('sim', default_value='false', choices=['true', 'false'],
                              description='simulation: synthetic camera, WAV-file audio, mock GPIO pins'),
        DeclareLaunchArgument('trials', default_value='', description='stop after N trials'),
        DeclareLaunchArgument('set', default_value='',
                              description='space-separated node.param=value overrides, as clopy run --set'),
        DeclareLaunchArgument('nodes', default_value='',
                              description='a rig: start only these nodes here (e.g. camera,pose), '
                                          'as clopy run --nodes'),
        DeclareLaunchArgument('remote', default_value='',
                              description='a rig: these nodes run on another computer, as clopy run --remote'),
        DeclareLaunchArgument('peers', default_value='',
                              description='with CLOPY_NETWORK=rig: the other computers, as clopy run --peers'),
        DeclareLaunchArgument('composed', default_value='false', choices=['true', 'false'],
                              description='camera, signal, task, tone and reward in one process on one '
                                          'executor (the fastest loop), as clopy run --composed'),
        DeclareLaunchArgument('rt_priority', default_value='',
                              description='real-time priority 1-99 (SCHED_FIFO) of the hot-path processes '
                                          'where permitted, as clopy run --rt-priority'),
        DeclareLaunchArgument('dashboard', default_value='false', choices=['true', 'false'],
                              description='the browser dashboard of the session, as clopy run --dashboard'),
        DeclareLaunchArgument('dashboard_port', default_value='8080',
                              description='port of the dashboard (0 or auto: any free port; the node log says it)'),
        DeclareLaunchArgument('dashboard_host', default_value='127.0.0.1',
                              description='bind address of the dashboard; any other than loopback prints a token'),
    ]
    args += foxglove_option.launch_arguments()
    return LaunchDescription(args + [OpaqueFunction(function=_session_actions, args=[paradigm])])


def _session_actions(context, paradigm: str):
    from launch.actions import EmitEvent, RegisterEventHandler, SetEnvironmentVariable, UnsetEnvironmentVariable
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown
    from launch_ros.actions import Node

    from clopy_data.folder import SessionFolder

    from clopy import config as cfg
    from clopy import rig
    from clopy.rosenv import RIG_KEYS, rig_env
    from clopy_common import realtime

    from clopy.paradigms import HOT_PATH, NODES, PARADIGMS, compose
    from clopy.runner import RunError, RunOptions, lease_domain, prepare

    def arg(name: str) -> str:
        return context.launch_configurations.get(name, '')

    rt_priority = arg('rt_priority').strip()
    try:
        realtime.requested_priority({realtime.ENV: rt_priority})
    except ValueError:
        raise RuntimeError(f'rt_priority:={rt_priority!r}: allowed: a whole number from 1 to 99 '
                           '(SCHED_FIFO priority), or empty') from None
    trials = arg('trials').strip()
    try:
        n_trials = int(trials) if trials else None
    except ValueError:
        raise RuntimeError(f'trials:={trials!r}: allowed: a whole number >= 1') from None
    opts = RunOptions(paradigm, sim=arg('sim') == 'true', mouse=arg('mouse') or None, trials=n_trials,
                      out_dir=Path(arg('out_dir')), sets=shlex.split(arg('set')),
                      params_file=Path(arg('params_file')) if arg('params_file') else None,
                      domain_id=int(os.environ.get('ROS_DOMAIN_ID') or 0),
                      nodes=rig.parse_names(arg('nodes')) or None, remote=rig.parse_names(arg('remote')) or None,
                      peers=rig.parse_names(arg('peers')) or None)
    try:
        local, _remote = rig.split_nodes(paradigm, PARADIGMS[paradigm].entries(), opts.nodes, opts.remote)
        network, peers = rig.rig_peers(opts.peers)
    except cfg.ConfigError as exc:
        raise RuntimeError(str(exc)) from None
    hot: list[str] = []   # the nodes of the hot-path process
    if arg('composed') == 'true':
        local, hot = compose(local)
    try:
        lease, graph = lease_domain(opts)
    except RunError as exc:
        raise RuntimeError(str(exc)) from None
    _HELD.extend([lease, graph])
    try:
        session_dir, _params, params_path = prepare(opts)
    except (cfg.ConfigError, RunError) as exc:
        raise RuntimeError(str(exc)) from None
    graph.relabel(f'the session {session_dir}')
    actions = [SetEnvironmentVariable('ROS_LOG_DIR', str(session_dir / 'logs'))]
    if network == 'rig':
        try:
            env = rig_env(lease.domain_id, peers, rig.write_rig_profile(session_dir, peers))
        except cfg.ConfigError as exc:
            raise RuntimeError(str(exc)) from None
        actions += [SetEnvironmentVariable(k, env[k]) if k in env else UnsetEnvironmentVariable(k)
                    for k in RIG_KEYS]
    enders, nodes = [], {}
    rt_env = {realtime.ENV: rt_priority} if rt_priority else {}
    for package, executable, name in local:
        extra = {'sigterm_timeout': '30'} if name in ('recorder', HOT_PATH[2]) else {}  # time to close the bag
        if name == HOT_PATH[2]:   # its nodes keep their own names: no name remapping
            extra['arguments'] = ['--nodes', ','.join(hot)]
        else:
            extra['name'] = name
        if rt_env and (name == HOT_PATH[2] or NODES[name].component):
            extra['additional_env'] = rt_env
        node = Node(package=package, executable=executable, output='screen', parameters=[str(params_path)],
                    **extra)
        actions.append(node)
        nodes[name] = node
        if name in SESSION_ENDERS:
            enders.append(node)
    # a node's exit before the shutdown is written down for the recorder (its end reason
    # when the node said nothing, e.g. SIGKILL); the end of one of SESSION_ENDERS ends the session
    folder = SessionFolder(session_dir)
    for name, node in nodes.items():
        def on_exit(event, context, name=name, ender=node in enders):
            if context.is_shutdown:
                return None   # stopping: every node exits now
            folder.record_node_exit(name, event.returncode)
            return [EmitEvent(event=Shutdown(reason=f'{name} ended'))] if ender else None
        actions.append(RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit)))
    if arg('dashboard') == 'true':   # one more process, no session ender
        actions.append(_dashboard_node(session_dir, params_path, arg('dashboard_host') or '127.0.0.1',
                                       arg('dashboard_port')))
    from clopy import foxglove_option   # foxglove:=true: the bridge, no session ender
    return actions + foxglove_option.launch_actions(arg, params_path)


def _dashboard_node(session_dir: Path, params_path: Path, host: str, port_text: str):
    from launch_ros.actions import Node

    from clopy.dashboard_process import DASHBOARD, check_port, dashboard_env, parse_port
    try:
        port = parse_port(port_text, 'dashboard_port:=')
        check_port(host, port)
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    env, token = dashboard_env(session_dir, params_path, host, port)
    where = (f'http://{"127.0.0.1" if host in ("0.0.0.0", "::") else host}:{port}' if port
             else "on a free port (the dashboard node's log line says which)")
    print(f'dashboard {where}', flush=True)
    if token:   # once, on this console only
        print(f'dashboard token {token}  (open the address with ?token={token}; every change needs it)', flush=True)
    return Node(package=DASHBOARD.package, executable=DASHBOARD.executable, name=DASHBOARD.name, output='screen',
                parameters=[str(params_path)], additional_env=env)
