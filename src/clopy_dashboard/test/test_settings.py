"""What clopy run hands the dashboard node (clopy.dashboard_process) is what the node reads."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from clopy import config as cfg
from clopy.dashboard_process import check_port, dashboard_env, parse_port
from clopy_dashboard.settings import DashboardSettings


def _params_file(tmp_path: Path) -> Path:
    _, params = cfg.load_params('clnf_1roi')
    params['recorder'].update(mouse='M3', paradigm='clnf_1roi')
    path = tmp_path / 'parameters.yaml'
    cfg.write_params(params, path)
    return path


def test_the_node_reads_what_the_runner_hands_it(tmp_path):
    path = _params_file(tmp_path)
    env, token = dashboard_env(tmp_path, path, '127.0.0.1', 0)
    assert token is None and 'CLOPY_DASHBOARD_TOKEN' not in env
    s = DashboardSettings.from_env(env)
    assert (s.host, s.port, s.token) == ('127.0.0.1', 0, None)
    assert s.url_file == tmp_path / 'logs' / 'dashboard_url'
    assert s.section('recorder')['mouse'] == 'M3' and s.section('roi_dff')['rois'] == ['M1_L']


def test_a_bind_address_off_loopback_gets_a_token_through_the_environment(tmp_path):
    env, token = dashboard_env(tmp_path, _params_file(tmp_path), '0.0.0.0', 8081)
    assert token and env['CLOPY_DASHBOARD_TOKEN'] == token
    assert token not in ' '.join(v for k, v in env.items() if k != 'CLOPY_DASHBOARD_TOKEN')
    assert DashboardSettings.from_env(env).token == token


def test_ports():
    assert parse_port('auto') == 0 and parse_port('0') == 0 and parse_port(' 8080 ') == 8080
    for bad in ('-1', '65536', 'http', ''):
        with pytest.raises(ValueError, match='allowed: a port 1-65535, or 0 / auto'):
            parse_port(bad)


def test_a_port_in_use_is_refused_before_the_session_starts():
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(cfg.ConfigError, match=f'--dashboard-port {port}: cannot listen there'):
            check_port('127.0.0.1', port)
    check_port('127.0.0.1', 0)
