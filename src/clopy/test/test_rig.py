"""The pure parts of a rig of several computers: which nodes run here, the peers,
the Fast DDS profile and the environment of the node processes."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from clopy.config import ConfigError
from clopy.rig import PRESENCE, parse_names, remote_end, rig_peers, split_nodes, ENDED_ELSEWHERE
from clopy.rosenv import local_address_for, network_mode, parse_peers, rig_env, rig_profile_xml
from clopy.paradigms import PARADIGMS

PARADIGM_NODES = {name: p.entries() for name, p in PARADIGMS.items()}


def test_split_nodes_keeps_the_start_order_and_names_the_other_side():
    here, remote = split_nodes('clmf', PARADIGM_NODES['clmf'], None, ['camera', 'pose'])
    assert [n for _, _, n in here] == ['recorder', 'reward', 'tone', 'task', 'speed']
    assert remote == ['pose', 'camera']
    here, remote = split_nodes('clmf', PARADIGM_NODES['clmf'], ['camera', 'pose'], None)
    assert [n for _, _, n in here] == ['pose', 'camera']
    assert remote == ['recorder', 'reward', 'tone', 'task', 'speed']


def test_without_a_subset_everything_runs_here():
    here, remote = split_nodes('clnf_1roi', PARADIGM_NODES['clnf_1roi'], None, None)
    assert here == PARADIGM_NODES['clnf_1roi'] and remote == []


@pytest.mark.parametrize('nodes,remote,message', [
    (['camera'], ['task'], 'exclude each other'),
    (['camera', 'pose'], None, 'pose not a node of clnf_1roi'),
    (None, [n for _, _, n in PARADIGM_NODES['clnf_1roi']], 'leaves no node'),
    ([], None, 'no node named'),
])
def test_bad_subsets_are_refused_with_the_allowed_names(nodes, remote, message):
    with pytest.raises(ConfigError, match=message):
        split_nodes('clnf_1roi', PARADIGM_NODES['clnf_1roi'], nodes, remote)


def test_every_node_can_be_seen_from_the_other_computer():
    for nodes in PARADIGM_NODES.values():
        assert {n for _, _, n in nodes} <= set(PRESENCE)


def test_parse_names_and_peers():
    assert parse_names('camera,pose') == ['camera', 'pose'] == parse_names(' camera  pose ')
    assert parse_peers('198.18.0.2;198.18.0.6') == ['198.18.0.2', '198.18.0.6']
    assert parse_peers('rig-camera.local,198.18.0.2') == ['rig-camera.local', '198.18.0.2']
    for bad in ('', '127.0.0.1', '239.255.0.1', '0.0.0.0', 'a b', '::1'):
        with pytest.raises(ValueError, match='--peers'):
            parse_peers(bad)


def test_network_mode_and_peers_from_the_environment():
    assert network_mode({}) == 'loopback' and network_mode({'CLOPY_NETWORK': 'rig'}) == 'rig'
    with pytest.raises(ValueError, match="CLOPY_NETWORK='lan'.*loopback, rig"):
        network_mode({'CLOPY_NETWORK': 'lan'})
    assert rig_peers(None, {}) == ('loopback', [])
    with pytest.raises(ConfigError, match='set CLOPY_NETWORK=rig'):
        rig_peers(['198.18.0.2'], {})
    assert rig_peers(['198.18.0.2'], {'CLOPY_NETWORK': 'rig'}) == ('rig', ['198.18.0.2'])
    assert rig_peers(None, {'CLOPY_NETWORK': 'rig', 'ROS_STATIC_PEERS': '198.18.0.1'}) == ('rig', ['198.18.0.1'])
    with pytest.raises(ConfigError, match='ROS_STATIC_PEERS'):
        rig_peers(None, {'CLOPY_NETWORK': 'rig'})


def test_rig_profile_whitelists_loopback_and_the_rig_address():
    xml = rig_profile_xml(['198.18.0.1'])
    assert '<address>127.0.0.1</address>' in xml and '<address>198.18.0.1</address>' in xml
    assert '<useBuiltinTransports>false</useBuiltinTransports>' in xml
    # only the rig address is announced to the other computer (never its own 127.0.0.1)
    ns = {'d': 'http://www.eprosima.com'}
    root = ET.fromstring(xml)
    for path in ('.//d:defaultUnicastLocatorList', './/d:builtin/d:metatrafficUnicastLocatorList'):
        [lst] = root.findall(path, ns)
        assert [a.text for a in lst.iter('{http://www.eprosima.com}address')] == ['198.18.0.1'], path
    assert '<sendBufferSize>4194304</sendBufferSize>' in xml and '<receiveBufferSize>4194304</receiveBufferSize>' in xml
    with pytest.raises(ValueError, match='marker'):
        rig_profile_xml(['198.18.0.1'], template='<dds/>')


def test_rig_env_limits_discovery_to_the_peers(tmp_path):
    base = {'ROS_LOCALHOST_ONLY': '1', 'FASTRTPS_DEFAULT_PROFILES_FILE': 'x', 'ROS_DISTRO': 'kilted'}
    env = rig_env(23, ['198.18.0.2'], tmp_path / 'p.xml', base)
    assert env['ROS_DOMAIN_ID'] == '23' and env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert env['ROS_STATIC_PEERS'] == '198.18.0.2'
    assert env['FASTDDS_DEFAULT_PROFILES_FILE'] == str(tmp_path / 'p.xml')
    assert 'FASTRTPS_DEFAULT_PROFILES_FILE' not in env and 'ROS_LOCALHOST_ONLY' not in env
    with pytest.raises(ValueError, match='peers'):
        rig_env(23, [], tmp_path / 'p.xml', base)


def test_local_address_is_the_source_of_the_route():
    assert local_address_for('127.0.0.2') == '127.0.0.1'


def test_remote_end():
    running, done = {'running': True}, {'running': False}
    # the camera computer: the task over there reported done, or left
    assert remote_end(['task', 'recorder'], [], True, done) == ENDED_ELSEWHERE
    assert remote_end(['task', 'recorder'], ['task'], True, running) == ENDED_ELSEWHERE
    assert remote_end(['task', 'recorder'], [], True, running) == ''
    # the session computer: a camera that leaves mid-session is a failure, after the task is done not
    assert remote_end(['camera'], ['camera'], True, running) == 'camera on the other computer stopped'
    assert remote_end(['camera'], ['camera'], True, done) == ''
