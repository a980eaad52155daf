"""`clopy run --foxglove [--foxglove-port N]` and the launch argument `foxglove:=true`:
the Foxglove bridge (clopy_dashboard's `foxglove_bridge`, docs/foxglove.md) as one more
process of the session, on 127.0.0.1. Bringup starts its executable by name and never
imports the dashboard package."""
from __future__ import annotations

import socket

from clopy import config as cfg

#: (package, executable, node name) of the bridge
BRIDGE = ('clopy_dashboard', 'foxglove_bridge', 'foxglove')
HOST = '127.0.0.1'
DEFAULT_PORT = 8765
#: how the port reaches the bridge started by `clopy run` (the bridge reads it: clopy_dashboard.foxglove)
PORT_ENV = 'CLOPY_FOXGLOVE_PORT'


def add_arguments(p) -> None:
    p.add_argument('--foxglove', action='store_true',
                   help=f'serve the session\'s topics to Foxglove on ws://{HOST}:PORT (docs/foxglove.md)')
    p.add_argument('--foxglove-port', type=int, default=DEFAULT_PORT, metavar='N',
                   help=f'port of --foxglove (default {DEFAULT_PORT})')


def port_from_args(args) -> int | None:
    """The bridge's port, or None without --foxglove."""
    return args.foxglove_port if getattr(args, 'foxglove', False) else None


def check_port(port: int | None, given: str = '') -> None:
    """ConfigError before anything starts when the port is out of range or taken (None: no
    bridge); `given`: how the port was given (default '--foxglove-port N')."""
    if port is None:
        return
    given = given or f'--foxglove-port {port}'
    if not 1 <= port <= 65535:
        raise cfg.ConfigError(f'{given}: allowed: a whole number from 1 to 65535')
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as exc:
            raise cfg.ConfigError(f'{given}: {HOST}:{port} is not free ({exc.strerror}); allowed: a free '
                                  'port') from None


def address(port: int) -> str:
    return f'foxglove ws://{HOST}:{port}'


def session_enders(exited: dict[str, int]) -> dict[str, int]:
    """The exited processes whose end ends the session: all but the bridge (a viewer that
    stops, e.g. killed, leaves the session running; its log says why)."""
    return {name: code for name, code in exited.items() if name != BRIDGE[2]}


def start(session, port: int | None, say) -> None:
    """`clopy run`: start the bridge as a process of the session (clopy.processes.Session)
    and print its address; nothing without --foxglove (port None)."""
    if port is None:
        return
    session.start(*BRIDGE, env={PORT_ENV: str(port)})
    say(address(port))


def launch_arguments() -> list:
    from launch.actions import DeclareLaunchArgument
    return [DeclareLaunchArgument('foxglove', default_value='false', choices=['true', 'false'],
                                  description='serve the topics to Foxglove (docs/foxglove.md), as clopy run '
                                              '--foxglove'),
            DeclareLaunchArgument('foxglove_port', default_value=str(DEFAULT_PORT),
                                  description='port of foxglove:=true, as clopy run --foxglove-port')]


def launch_actions(arg, params_path) -> list:
    """The bridge's node (not a session ender) and its address line, for foxglove:=true."""
    if arg('foxglove') != 'true':
        return []
    from launch.actions import LogInfo
    from launch_ros.actions import Node
    text = arg('foxglove_port').strip()
    try:
        port = int(text)
    except ValueError:
        raise RuntimeError(f'foxglove_port:={text!r}: allowed: a whole number from 1 to 65535') from None
    try:
        check_port(port, f'foxglove_port:={port}')
    except cfg.ConfigError as exc:
        raise RuntimeError(str(exc)) from None
    package, executable, name = BRIDGE
    return [Node(package=package, executable=executable, name=name, output='screen',
                 parameters=[str(params_path), {'port': port}]), LogInfo(msg=address(port))]
