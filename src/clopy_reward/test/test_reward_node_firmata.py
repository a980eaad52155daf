"""The reward node in real rclpy with reward.backend = firmata (not simulated), against a
serial peer answering like StandardFirmata (firmata_board.py): the CLMF pin map drives
the board's pins, the imaging TTL is high from the start and ends LOW-HIGH-LOW, and a
missing Arduino stops the node at start naming the port (never a simulation)."""
from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip('rclpy')

from clopy_common.node_main import StartupError  # noqa: E402
from firmata_board import FirmataPeer  # noqa: E402
from test_reward_node import Graph  # noqa: E402

CLMF = dict(simulate='false', backend='firmata', baud=115200, valve_pin=7, fail_pin=12, imaging_ttl_pin=13,
            imaging_ttl_end_pulse_s=0.05, behaviour_camera_pin=-1, illumination_pin=-1, valve_pulse_s=0.1)


def test_the_clmf_pin_map_on_the_arduino():
    peer = FirmataPeer()
    graph = None
    try:
        graph = Graph(serial_port=peer.path, **CLMF)
        assert graph.wait(lambda: peer.levels[13] == 1)          # imaging TTL high from the start
        graph.valve(0.0, frame_index=42)                           # 0: the node's default, 0.1 s
        records = graph.valve_records(2)
        opened, closed = records[0], records[1]
        assert opened.opened and closed.delivered and not closed.opened
        assert closed.duration_s == pytest.approx(0.1, abs=0.03)
        assert graph.wait(lambda: len(peer.high_times_s(7)) == 1)
        assert peer.high_times_s(7)[0] == pytest.approx(0.1, abs=0.03)
        graph.close()
        graph = None
        deadline = time.monotonic() + 2.0
        while len(peer.edges(13)) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [level for _, level in peer.edges(13)] == [1, 0, 1, 0]
        assert peer.levels[7] == peer.levels[12] == peer.levels[13] == 0
    finally:
        if graph is not None:
            graph.close()
        peer.close()


def test_a_missing_arduino_stops_the_node_naming_the_port():
    with pytest.raises(StartupError) as err:
        Graph(serial_port='/dev/ttyACM98', **CLMF)
    assert "reward.serial_port = '/dev/ttyACM98': no such serial device" in str(err.value)


def test_an_arduino_unplugged_mid_session_ends_the_session_with_an_error():
    peer = FirmataPeer()
    graph = Graph(serial_port=peer.path, **CLMF)
    try:
        peer.unplug()
        graph.valve(0.1, frame_index=7)
        refused = graph.valve_records(1)[0]
        assert not refused.delivered and refused.note.startswith('could not switch valve on (Arduino pin 7')
        assert refused.rewards_delivered == 0 and refused.rewards_refused == 1
        assert graph.wait(lambda: graph.ends)
        assert graph.ends[0].error and graph.ends[0].reason.startswith('reward outputs failed: could not switch valve on')
    finally:
        graph.close()
        peer.close()
