"""The browser dashboard as one more process of a session's graph (`clopy run --dashboard`,
`dashboard:=true`): which executable, the environment that carries its settings (the
token never goes through a file or a command line), and how clopy run starts it, says
its address and lets it go without ending the session. The dashboard itself is the
clopy_dashboard package (above bringup: nothing here imports it)."""
from __future__ import annotations

import ipaddress
import secrets
import socket
from pathlib import Path

from clopy.config import ConfigError
from clopy.paradigms import NodeSpec

#: never on the hot path and never a session ender
DASHBOARD = NodeSpec('dashboard', 'clopy_dashboard', 'dashboard_node',
                     'the browser dashboard: watch and steer the session', ('session_status', 'sub'))
DASHBOARD_ENV = {'host': 'CLOPY_DASHBOARD_HOST', 'port': 'CLOPY_DASHBOARD_PORT', 'token': 'CLOPY_DASHBOARD_TOKEN',
                 'url_file': 'CLOPY_DASHBOARD_URL_FILE', 'params': 'CLOPY_DASHBOARD_PARAMS'}
DASHBOARD_URL_FILE = 'dashboard_url'   # in the session's logs/: the address the node listens on
DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 8080
LOOPBACK_NAMES = ('localhost', 'localhost.localdomain', 'ip6-localhost')


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and the loopback names."""
    host = host.strip('[]')
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_port(text, what: str = '--dashboard-port') -> int:
    """A TCP port 1-65535, or 0 / 'auto' for any free port; ValueError naming `what`."""
    text = str(text).strip()
    if text == 'auto':
        return 0
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f'{what} {text!r}: allowed: a port 1-65535, or 0 / auto for any free port')
    return port


def check_port(host: str, port: int) -> None:
    """ConfigError naming the address when the dashboard could not listen there (checked
    before a session starts; port 0 is always free)."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError as exc:
            raise ConfigError(f'--dashboard-host {host} --dashboard-port {port}: cannot listen there '
                             f'({exc.strerror or exc}); allowed: a free port, or 0 for any free port') from None


def dashboard_env(session_dir: Path, params_path: Path, host: str, port: int) -> tuple[dict, str | None]:
    """(environment of the dashboard node, its token): a bind address other than loopback
    gets a token, which the caller prints once on its console."""
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    env = {DASHBOARD_ENV['host']: host, DASHBOARD_ENV['port']: str(int(port)),
           DASHBOARD_ENV['url_file']: str(Path(session_dir) / 'logs' / DASHBOARD_URL_FILE),
           DASHBOARD_ENV['params']: str(params_path)}
    if token:
        env[DASHBOARD_ENV['token']] = token
    return env, token


class DashboardProcess:
    """The dashboard process of a session: started first, stopped first, its exit no end of
    the session; its address (and a token, for a bind address other than loopback) said once."""

    def __init__(self, session, session_dir: Path, params_path: Path, host: str, port: int, say,
                 enabled: bool = True) -> None:
        self.session, self.say, self.enabled = session, say, enabled
        self.env, self.token = dashboard_env(session_dir, params_path, host, port) if enabled else ({}, None)
        self.url_file = Path(session_dir) / 'logs' / DASHBOARD_URL_FILE
        self.said = self.gone = False

    def start(self) -> None:
        if self.enabled:
            self.session.start(*DASHBOARD.entry, env=self.env)

    def stop(self) -> None:
        if self.enabled:
            self.session.stop(DASHBOARD.name)

    def announce(self) -> None:
        if not self.enabled or self.said or not self.url_file.is_file():
            return
        url = self.url_file.read_text().strip()
        if url:
            self.said = True
            self.say(f'dashboard {url}')
            if self.token:   # once, on the console only (never in a log or a file)
                self.say(f'dashboard token {self.token}  (open {url}/?token={self.token}; every change needs it)')

    def check(self, ended: dict) -> dict:
        """The exits that end the session (the dashboard's is said, not one of them)."""
        self.announce()
        code = ended.pop(DASHBOARD.name, None)
        if code is not None and not self.gone:
            self.gone = True
            self.say(f'dashboard stopped (exit {code}); the session goes on:\n{self.session.log_tail(DASHBOARD.name)}')
        return ended
