"""The Foxglove bridge in a real session: `clopy run clnf_1roi --sim --foxglove` (two short
trials), watched by a WebSocket client speaking the Foxglove protocol, as the Foxglove app
does: it reads the advertised channels, subscribes to /control_signal, /image_raw and
/session_status and decodes the CDR bytes it receives with the advertised ros2msg schema
(mcap_ros2, the same kind of parser as Foxglove's) and with rclpy."""
from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import rclpy
import websockets
from mcap.records import Schema
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import deserialize_message
from rosbags.typesys import get_types_from_msg
from sensor_msgs.msg import Image

from clopy_data.topics import TOPICS, VIEWER_TOPICS
from clopy_dashboard.foxglove import protocol
from clopy_interfaces.msg import ControlSignal, SessionStatus
from clopy.rosenv import DomainLease, apply_loopback, loopback_env

from test_clnf_graph import FAST, no_process_left, session_dir

WANTED = ('/control_signal', '/image_raw', '/session_status')
N_SIGNALS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Lines:
    """stdout of a process, line by line, read in a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line.rstrip('\n'))

    def wait_for(self, prefix: str, timeout_s: float) -> str:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            found = [x for x in self.lines if x.startswith(prefix)]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f'no line {prefix!r} in:\n' + '\n'.join(self.lines))

    def text(self) -> str:
        self._thread.join(timeout=10)
        return '\n'.join(self.lines)


def bridge_pid(d: Path) -> int:
    """The bridge process of session `d`."""
    mine = [pid for pid in no_process_left(d) if b'foxglove_bridge' in Path(f'/proc/{pid}/cmdline').read_bytes()]
    assert len(mine) == 1, mine
    return int(mine[0])


async def connect(port: int, timeout_s: float = 60.0):
    """The bridge process starts when the address is printed: try until it listens."""
    end = time.monotonic() + timeout_s
    while True:
        try:
            return await websockets.connect(f'ws://127.0.0.1:{port}', subprotocols=list(protocol.SUBPROTOCOLS),
                                            max_size=None)
        except OSError:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.2)


async def settle(count, value: int, timeout_s: float = 10.0) -> int:
    """Poll count() until it gives value (graph changes take a moment); the last count."""
    end = time.monotonic() + timeout_s
    while (n := count()) != value and time.monotonic() < end:
        await asyncio.sleep(0.1)
    return n


async def watch(port: int, count) -> dict:
    """Connect, read serverInfo and advertise, subscribe to WANTED; collect N_SIGNALS
    control signals, one image and one status; then unsubscribe everything. count():
    the subscribers of control_signal in the ROS graph, noted at each step."""
    counts = {}
    async with await connect(port) as ws:
        counts['connected'] = await settle(count, 2)   # discovery of the graph by this test's node
        info = json.loads(await ws.recv())
        advertise = json.loads(await ws.recv())
        channels = protocol.channels_by_topic(advertise)
        by_sub = {}
        for sub_id, topic in enumerate(WANTED, start=1):
            await ws.send(protocol.subscribe(sub_id, channels[topic]['id']))
            by_sub[sub_id] = topic
        got: dict[str, list[bytes]] = {t: [] for t in WANTED}
        while len(got['/control_signal']) < N_SIGNALS or not got['/image_raw'] or not got['/session_status']:
            frame = await asyncio.wait_for(ws.recv(), timeout=30)
            if isinstance(frame, bytes):
                data = protocol.parse_message_data(frame)
                got[by_sub[data.subscription_id]].append(data.payload)
        counts['subscribed'] = count()
        await ws.send(protocol.unsubscribe(*by_sub))
        counts['unsubscribed'] = await settle(count, counts['connected'])
        return {'subprotocol': ws.subprotocol, 'info': info, 'channels': channels, 'got': got, 'counts': counts}


@pytest.fixture(scope='module')
def watched(tmp_path_factory):
    out = tmp_path_factory.mktemp('foxglove')
    port = free_port()
    saved = dict(os.environ)
    with DomainLease() as lease:
        apply_loopback(lease.domain_id)
        env = loopback_env(lease.domain_id)
        cmd = [sys.executable, '-m', 'clopy.cli', 'run', 'clnf_1roi', '--sim', '--trials', '2', '--out', str(out),
               '--foxglove', '--foxglove-port', str(port), '--domain-id', str(lease.domain_id)]
        for s in FAST + ['task.v.max_trial_s=3.0', 'camera.synthetic.activity=ramp']:
            cmd += ['--set', s]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        lines = Lines(proc)
        rclpy.init()
        graph = rclpy.create_node('foxglove_test_graph')
        try:
            line = lines.wait_for('foxglove ws://', 90)
            seen = asyncio.run(watch(port, lambda: graph.count_subscribers('/control_signal')))
            # a viewer that dies leaves the session running
            os.kill(bridge_pid(session_dir(out)), signal.SIGKILL)
            time.sleep(2.0)
            seen['running_after_bridge_killed'] = proc.poll() is None
            os.killpg(proc.pid, signal.SIGINT)   # enough seen: stop the session as a user does
            code = proc.wait(timeout=90)
        finally:
            graph.destroy_node()
            rclpy.shutdown()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            os.environ.clear()
            os.environ.update(saved)
    yield {'port': port, 'line': line, 'code': code, 'stdout': lines.text(), 'out': out, **seen}


def test_run_prints_the_address_and_ends_cleanly(watched):
    assert watched['line'] == f"foxglove ws://127.0.0.1:{watched['port']}"
    assert watched['code'] == 0, watched['stdout']
    d = session_dir(watched['out'])
    log = (d / 'logs' / 'foxglove.log').read_text()
    assert f"foxglove ws://127.0.0.1:{watched['port']}: {len(TOPICS) + len(VIEWER_TOPICS)} topics" in log
    assert 'Traceback' not in log and 'ERROR' not in log, log
    assert not no_process_left(d)


def test_a_killed_bridge_does_not_end_the_session(watched):
    assert watched['running_after_bridge_killed']
    assert 'session ended: stopped by the user' in watched['stdout'], watched['stdout']


def test_the_bridge_subscribes_in_ros_only_while_a_client_watches(watched):
    # the task and the recorder read control_signal; the bridge adds its reader for the
    # client's subscription and drops it when the client unsubscribes
    counts = watched['counts']
    assert counts == {'connected': 2, 'subscribed': 3, 'unsubscribed': 2}


def test_every_session_topic_is_advertised_as_cdr_with_its_ros2msg_schema(watched):
    assert watched['subprotocol'] in protocol.SUBPROTOCOLS
    assert watched['info']['capabilities'] == []   # watching only: no publishing, services or parameters
    channels = watched['channels']
    assert set(channels) == {'/' + t for t in {**TOPICS, **VIEWER_TOPICS}}
    for topic, msgtype in {**TOPICS, **VIEWER_TOPICS}.items():
        ch = channels['/' + topic]
        assert (ch['encoding'], ch['schemaEncoding'], ch['schemaName']) == ('cdr', 'ros2msg', msgtype)
        # the definition text parses, nested types included (Header, Time)
        types = get_types_from_msg(ch['schema'], msgtype)
        assert msgtype in types
    assert 'MSG: std_msgs/Header' in channels['/control_signal']['schema']


def test_control_signals_decode_from_the_cdr_bytes_in_frame_order(watched):
    schema = watched['channels']['/control_signal']
    decode = DecoderFactory().decoder_for('cdr', Schema(id=1, name=schema['schemaName'], encoding='ros2msg',
                                                       data=schema['schema'].encode()))
    signals = [deserialize_message(p, ControlSignal) for p in watched['got']['/control_signal']]
    assert len(signals) >= 20
    indices = [m.frame_index for m in signals]
    assert indices == sorted(indices) and len(set(indices)) == len(indices), indices
    for m, payload in zip(signals, watched['got']['/control_signal']):
        assert math.isfinite(m.value)
        assert m.units == 'dff'
        via_schema = decode(payload)   # what Foxglove reads from the advertised schema
        assert via_schema.value == m.value and via_schema.frame_index == m.frame_index


def test_image_and_status_arrive_whole(watched):
    image = deserialize_message(watched['got']['/image_raw'][0], Image)
    assert image.encoding in ('mono8', 'bgr8')
    assert image.width > 0 and len(image.data) == image.step * image.height
    assert image.header.frame_id.startswith('camera#')
    status = deserialize_message(watched['got']['/session_status'][0], SessionStatus)
    assert status.paradigm == 'clnf_1roi' and status.total_trials == 2 and status.state


def _bridge(processes, ros_env, *params: str) -> subprocess.Popen:
    from clopy.processes import executable
    args = [str(executable('clopy_dashboard', 'foxglove_bridge')), '--ros-args']
    for p in params:
        args += ['-p', p]
    return processes.start(args, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_bind_beyond_loopback_is_refused(processes, ros_env):
    refused = _bridge(processes, ros_env, 'host:=0.0.0.0')
    out, _ = refused.communicate(timeout=60)
    assert refused.returncode == 2, out
    assert "configuration error: foxglove.host = '0.0.0.0': not a loopback address" in out
    assert 'SSH tunnel' in out


def test_the_options_of_clopy_run_and_the_launch_files():
    from launch.actions import LogInfo
    from launch_ros.actions import Node

    from clopy import foxglove_option
    from clopy.cli import build_parser
    from clopy.config import ConfigError
    args = build_parser().parse_args(['run', 'clnf_1roi', '--foxglove', '--foxglove-port', '9100'])
    assert foxglove_option.port_from_args(args) == 9100
    assert foxglove_option.port_from_args(build_parser().parse_args(['run', 'clnf_1roi'])) is None
    assert foxglove_option.launch_actions({'foxglove': 'false'}.get, 'p.yaml') == []
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f'--foxglove-port {port}: 127.0.0.1:{port} is not free'):
            foxglove_option.check_port(port)
        with pytest.raises(RuntimeError, match=f'foxglove_port:={port}: 127.0.0.1:{port} is not free'):
            foxglove_option.launch_actions({'foxglove': 'true', 'foxglove_port': str(port)}.get, 'p.yaml')
    with pytest.raises(ConfigError, match='--foxglove-port 70000: allowed: a whole number from 1 to 65535'):
        foxglove_option.check_port(70000)
    node, line = foxglove_option.launch_actions({'foxglove': 'true', 'foxglove_port': str(free_port())}.get,
                                                'p.yaml')
    assert isinstance(node, Node) and isinstance(line, LogInfo)
    assert (node.node_package, node.node_executable) == ('clopy_dashboard', 'foxglove_bridge')
