"""`clopy dashboard`: the lab's page before a session (alignment of the mouse's ROIs; the
experiment pages when installed), served on 127.0.0.1 unless --host says otherwise.

  clopy dashboard [--out DIR] [--mouse M] [--paradigm P] [--host H] [--port N]

A bind address other than loopback prints a token once (open the address with
?token=...); every change needs it and the page's own origin.
"""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from clopy_dashboard.security import Guard
from clopy_dashboard.server import Server
from clopy.dashboard_process import DEFAULT_HOST, DEFAULT_PORT, parse_port


def make_app(out_dir: Path, mouse: str, paradigm: str, guard: Guard):
    from clopy_dashboard.web import add_experiments, add_root, create_app
    from clopy_dashboard.web_align import add_align_routes
    app = create_app(guard, 'CLoPy dashboard')
    add_align_routes(app, Path(out_dir), mouse, paradigm)
    add_experiments(app, Path(out_dir))
    add_root(app, '/align')
    return app


def add_command(sub) -> None:
    p = sub.add_parser('dashboard', help='the browser dashboard: align a mouse before its session, experiments',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', type=Path, default=Path('sessions'), help='data folder (the --out of clopy run)')
    p.add_argument('--mouse', default='mouse', help='mouse to align first (the page can switch)')
    p.add_argument('--paradigm', default='clnf_1roi', help='paradigm whose ROIs to align (clnf_1roi, clnf_2roi)')
    p.add_argument('--host', default=DEFAULT_HOST,
                   help='bind address (default 127.0.0.1; any other needs the token printed at the start)')
    p.add_argument('--port', default=str(DEFAULT_PORT), help='TCP port (0 or auto: any free port)')
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    try:
        port = parse_port(args.port, '--port')
    except ValueError as exc:
        print(f'clopy: {exc}')
        return 2
    guard = Guard.for_bind(args.host)
    try:
        server = Server(make_app(args.out, args.mouse, args.paradigm, guard), args.host, port).start()
    except (OSError, RuntimeError) as exc:
        print(f'clopy: {exc}')
        return 2
    print(f'dashboard {server.url}', flush=True)
    if guard.token:   # once, on this console only
        print(f'token {guard.token}  (open {server.url}/?token={guard.token}; every change needs it)', flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set() and server.thread.is_alive():
        stop.wait(0.5)
    server.stop()
    return 0
