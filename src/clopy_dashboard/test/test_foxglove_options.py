"""Where the bridge may listen (loopback unless asked), the port handed over by
`clopy run`, and which topics clients want."""
from __future__ import annotations

import pytest

from clopy_dashboard.foxglove.bridge_node import ros_args
from clopy_dashboard.foxglove.demand import Demand
from clopy_dashboard.foxglove.options import PORT_ENV, BindError, check_bind, is_loopback


@pytest.mark.parametrize('host', ['127.0.0.1', '127.0.0.2', '::1', 'localhost', 'LOCALHOST'])
def test_loopback_addresses_bind_without_a_word(host):
    assert is_loopback(host)
    assert check_bind(host, 8765) is None


@pytest.mark.parametrize('host', ['0.0.0.0', '192.168.1.20', '::', 'rig-pc.local'])
def test_any_other_address_is_refused_no_token_can_guard_it(host):
    assert not is_loopback(host)
    with pytest.raises(BindError, match=rf"foxglove.host = '{host}': not a loopback address.*no authentication.*SSH"):
        check_bind(host, 8765)


@pytest.mark.parametrize('port', [-1, 65536, True, 8765.0])
def test_a_port_out_of_range_is_refused(port):
    with pytest.raises(BindError, match=r'foxglove.port = .*allowed: a whole number from 0'):
        check_bind('127.0.0.1', port)


def test_the_port_from_clopy_run_becomes_a_command_line_parameter():
    argv = ['foxglove_bridge', '--ros-args', '--params-file', 'p.yaml']
    assert ros_args(argv, {PORT_ENV: '9001'}) == argv + ['--ros-args', '-p', 'port:=9001']
    assert ros_args(argv, {}) == argv


def test_demand_is_the_union_of_the_clients_subscriptions():
    d = Demand()
    v0 = d.version
    d.add(1, 'control_signal')
    d.add(2, 'control_signal')
    d.add(2, 'image_raw')
    assert d.wanted() == {'control_signal', 'image_raw'}
    v1 = d.version
    d.add(1, 'control_signal')   # again: nothing changes
    assert d.version == v1 > v0
    d.remove(2, 'control_signal')
    assert d.wanted() == {'control_signal', 'image_raw'}
    d.remove(1, 'control_signal')
    d.remove(2, 'image_raw')
    d.remove(2, 'image_raw')
    assert d.wanted() == set() and d.version == v1 + 3
