"""How the dashboard node learns its settings: environment variables set by `clopy run
--dashboard` and by `dashboard:=true` (the token never goes through a parameter file or a
command line, where logs and `ps` would show it). Plain Python."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

ENV_HOST = 'CLOPY_DASHBOARD_HOST'
ENV_PORT = 'CLOPY_DASHBOARD_PORT'
ENV_TOKEN = 'CLOPY_DASHBOARD_TOKEN'
ENV_URL_FILE = 'CLOPY_DASHBOARD_URL_FILE'   # the node writes its address there (no token)
ENV_PARAMS = 'CLOPY_DASHBOARD_PARAMS'       # the session's parameters.yaml
DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 8080
URL_FILE = 'dashboard_url'


def parse_port(text: str | int | None, what: str = '--dashboard-port') -> int:
    """A TCP port 0-65535 (0 or 'auto': any free port)."""
    if text is None or str(text).strip() in ('', 'auto'):
        return 0 if str(text).strip() == 'auto' else DEFAULT_PORT
    try:
        port = int(str(text).strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f'{what} {text!r}: allowed: a port 1-65535, or 0 / auto for any free port')
    return port


@dataclass
class DashboardSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    url_file: Path | None = None
    params: dict | None = None   # the session's parameters ({node: {param: value}})

    @classmethod
    def from_env(cls, env=None) -> 'DashboardSettings':
        env = os.environ if env is None else env
        params = None
        if env.get(ENV_PARAMS):
            params = yaml.safe_load(Path(env[ENV_PARAMS]).read_text()) or {}
            # a ROS parameter file: {node: {ros__parameters: {...}}}
            params = {node: (v or {}).get('ros__parameters', v or {}) for node, v in params.items()
                      if isinstance(v, dict)}
        return cls(env.get(ENV_HOST) or DEFAULT_HOST, parse_port(env.get(ENV_PORT, DEFAULT_PORT), ENV_PORT),
                   env.get(ENV_TOKEN) or None, Path(env[ENV_URL_FILE]) if env.get(ENV_URL_FILE) else None,
                   params)

    def section(self, node: str) -> dict:
        return dict((self.params or {}).get(node) or {})


def session_env(session_dir: Path, params_path: Path, host: str, port: int, token: str | None) -> dict:
    """The environment the runner gives the dashboard node."""
    env = {ENV_HOST: host, ENV_PORT: str(port), ENV_URL_FILE: str(Path(session_dir) / 'logs' / URL_FILE),
           ENV_PARAMS: str(params_path)}
    if token:
        env[ENV_TOKEN] = token
    return env
