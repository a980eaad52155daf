"""How the dashboard node learns its settings: environment variables set by `clopy run
--dashboard` and by `dashboard:=true` (the token never goes through a parameter file or a
command line, where logs and `ps` would show it). Plain Python."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from clopy.dashboard_process import DASHBOARD_ENV, DEFAULT_HOST, DEFAULT_PORT, parse_port

ENV_HOST = DASHBOARD_ENV['host']
ENV_PORT = DASHBOARD_ENV['port']
ENV_TOKEN = DASHBOARD_ENV['token']
ENV_URL_FILE = DASHBOARD_ENV['url_file']   # the node writes its address there (no token)
ENV_PARAMS = DASHBOARD_ENV['params']       # the session's parameters.yaml


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

