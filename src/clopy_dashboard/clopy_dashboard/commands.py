"""`clopy dashboard`: the lab's page before a session (alignment of the mouse's ROIs; the
experiment pages when installed), served on 127.0.0.1 unless --host says otherwise.

  clopy dashboard [--out DIR] [--mouse M] [--paradigm P] [--host H] [--port N]
                  [--token-file F] [--rig NAME] [--rig-token RIG=FILE ...]

A bind address other than loopback prints a token once (open the address with
?token=...); every change needs it and the page's own origin.

Rigs on other computers (docs/experiments.md): a rig computer's dashboard runs with
--token-file F (its token, made once, mode 0600) and --rig NAME (the rig it is the host
of); the central dashboard with --rig-token NAME=F (a copy of that file) shows that rig
and starts its sessions there.
"""
from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from clopy_dashboard.experiment.pairing import RIG_ENV, TOKENS_ENV, PairingError, local_rigs, rig_tokens, token_file
from clopy_dashboard.security import Guard
from clopy_dashboard.server import Server
from clopy.dashboard_process import DEFAULT_HOST, DEFAULT_PORT, parse_port


def make_app(out_dir: Path, mouse: str, paradigm: str, guard: Guard, rig_tokens: dict | None = None):
    from clopy_dashboard.web import add_experiments, add_root, create_app
    from clopy_dashboard.web_align import add_align_routes
    app = create_app(guard, 'CLoPy dashboard')
    app.state.rig_tokens = dict(rig_tokens or {})   # the experiment pages' rig computers
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
    p.add_argument('--token-file', type=Path,
                   help='the token from this file (made, mode 0600, when it does not exist): a rig computer\'s '
                        'dashboard, paired once with the central one')
    p.add_argument('--rig', action='append', default=[], metavar='NAME',
                   help=f'this computer is the host of rig NAME of the experiment files (sets {RIG_ENV}): the '
                        'central dashboard starts its sessions here; repeat for several')
    p.add_argument('--rig-token', action='append', default=[], metavar='RIG=FILE',
                   help=f'the token of rig RIG\'s dashboard, from FILE (readable by its owner only); repeat per '
                        f'rig (also {TOKENS_ENV}=RIG=FILE,...)')
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    try:
        port = parse_port(args.port, '--port')
    except ValueError as exc:
        print(f'clopy: {exc}')
        return 2
    try:
        token, made = token_file(args.token_file) if args.token_file else (None, False)
        tokens = rig_tokens(args.rig_token, os.environ.get(TOKENS_ENV))
    except PairingError as exc:
        print(f'clopy: {exc}')
        return 2
    rigs = ','.join(sorted(set(local_rigs()) | {r.strip() for r in args.rig if r.strip()}))
    if rigs:   # the runs it starts inherit it
        os.environ[RIG_ENV] = rigs
    guard = Guard.for_bind(args.host, token=token)
    try:
        server = Server(make_app(args.out, args.mouse, args.paradigm, guard, tokens), args.host, port).start()
    except (OSError, RuntimeError) as exc:
        print(f'clopy: {exc}')
        return 2
    print(f'dashboard {server.url}', flush=True)
    if rigs:
        print(f'rig host of {rigs}', flush=True)
    if tokens:
        print(f'rig computers paired: {", ".join(sorted(tokens))}', flush=True)
    if args.token_file:   # never the token itself: the file has it
        print(f'token {"made in" if made else "from"} {args.token_file} (open {server.url}/?token=... with the '
              'token of that file; every change needs it)', flush=True)
    elif guard.token:   # once, on this console only
        print(f'token {guard.token}  (open {server.url}/?token={guard.token}; every change needs it)', flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set() and server.thread.is_alive():
        stop.wait(0.5)
    server.stop()
    return 0
