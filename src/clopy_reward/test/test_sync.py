"""Sync pulses: the Rsync interval law, the settings check, pulses on real (mock) gpiozero
pins through the OutputBank with their on times reported, low on close, and the reward
node recording each pulse as a RewardEvent named sync."""
from __future__ import annotations

import statistics
import time

import pytest
from gpiozero.pins.mock import MockFactory

from clopy_reward.outputs import OutputBank, OutputSpec
from clopy_reward.sync import (INTERVAL_HIGH, INTERVAL_LOW, SYNC_OUTPUT, SyncError, SyncPulser, SyncSchedule,
                               check_sync_settings, sync_output_specs)


def test_intervals_are_uniform_between_0_1_and_1_9_of_the_mean():
    s = SyncSchedule(mean_interval_s=2.0, pulse_s=0.05, seed=3)
    xs = [s.next_interval_s() for _ in range(20000)]
    assert min(xs) >= INTERVAL_LOW * 2.0 and max(xs) <= INTERVAL_HIGH * 2.0
    assert min(xs) < 0.25 and max(xs) > 3.75
    assert statistics.mean(xs) == pytest.approx(2.0, rel=0.02)
    # uniform: each tenth of the range holds about a tenth of the intervals
    counts = [0] * 10
    for x in xs:
        counts[min(9, int((x / 2.0 - INTERVAL_LOW) / (INTERVAL_HIGH - INTERVAL_LOW) * 10))] += 1
    assert all(1700 < c < 2300 for c in counts), counts


def test_a_seed_repeats_the_schedule_and_onsets_cover_the_duration():
    a = SyncSchedule(1.0, 0.01, seed=7).onsets_s(100.0, start_s=5.0)
    b = SyncSchedule(1.0, 0.01, seed=7).onsets_s(100.0, start_s=5.0)
    c = SyncSchedule(1.0, 0.01, seed=8).onsets_s(100.0, start_s=5.0)
    assert a == b and a != c
    assert 5.0 + 0.1 <= a[0] and a[-1] <= 105.0 and len(a) > 70


@pytest.mark.parametrize('mean, pulse, key', [(0.0, 0.01, 'sync_mean_interval_s'), (1.0, 0.0, 'sync_pulse_s'),
                                              (1.0, 0.1, 'sync_pulse_s'), (1.0, 0.5, 'sync_pulse_s')])
def test_settings_that_cannot_work_are_refused_naming_the_parameter(mean, pulse, key):
    with pytest.raises(SyncError, match=f'reward.{key}'):
        check_sync_settings(mean, pulse)


def test_sync_output_is_off_at_pin_minus_one_and_limited_to_the_pulse():
    assert sync_output_specs({'sync_pin': -1, 'sync_mean_interval_s': 1.0, 'sync_pulse_s': 5.0}) == []
    (spec,) = sync_output_specs({'sync_pin': 22, 'sync_mean_interval_s': 1.0, 'sync_pulse_s': 0.02})
    assert (spec.name, spec.pin, spec.max_on_s) == (SYNC_OUTPUT, 22, 0.02)


def _high_edges(pin) -> list[float]:
    states = list(pin.states)
    return [s.timestamp for prev, s in zip(states, states[1:]) if s.state and not prev.state]


def test_pulses_go_out_on_the_pin_and_their_on_times_are_reported():
    bank = OutputBank([OutputSpec(SYNC_OUTPUT, 22, 0.02)], MockFactory())
    seen = []
    pulser = SyncPulser(bank, SyncSchedule(0.25, 0.02, seed=1), on_pulse=seen.append).start()
    try:
        deadline = time.monotonic() + 10.0
        while len(seen) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        pulser.stop()
        assert bank.wait_idle(2.0)
    finally:
        bank.close()
    assert len(seen) >= 8
    assert all(r.name == SYNC_OUTPUT and r.delivered and r.reason == 'sync' for r in seen)
    assert all(0.015 < r.duration_s < 0.2 for r in seen)
    assert [r.on_time_s for r in seen] == pulser.emitted_s[:len(seen)]
    gaps = [b - a for a, b in zip(pulser.emitted_s, pulser.emitted_s[1:])]
    assert all(0.02 < g < 0.25 * INTERVAL_HIGH + 0.1 for g in gaps), gaps
    # every reported pulse is a rising edge on the pin, and the pin ends low
    assert len(_high_edges(bank.pin(SYNC_OUTPUT))) == len(pulser.emitted_s)
    assert not bank.pin(SYNC_OUTPUT).state


def test_close_mid_pulse_leaves_the_pin_low_and_no_more_pulses_come():
    bank = OutputBank([OutputSpec(SYNC_OUTPUT, 22, 0.5)], MockFactory())
    pulser = SyncPulser(bank, SyncSchedule(1.0, 0.09, seed=2)).start()
    deadline = time.monotonic() + 5.0
    while not bank.is_on(SYNC_OUTPUT) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert bank.is_on(SYNC_OUTPUT)
    pin = bank.pin(SYNC_OUTPUT)
    pulser.stop()
    bank.close()
    assert not pin.state
    n = len(pulser.emitted_s)
    time.sleep(2.0)
    assert len(pulser.emitted_s) == n == 1


def test_the_reward_node_records_each_sync_pulse_as_a_reward_event():
    rclpy = pytest.importorskip('rclpy')
    import os
    import threading

    from clopy_common import qos
    from clopy_interfaces.msg import RewardCommand, RewardEvent
    from rclpy.executors import SingleThreadedExecutor

    from clopy_reward.reward_node import RewardNode

    ns = f'/sync_test_{os.getpid()}_{time.monotonic_ns()}'
    context = rclpy.context.Context()
    rclpy.init(args=['--ros-args', '-r', f'__ns:={ns}', '-p', 'simulate:=true', '-p', 'sync_pin:=22',
                     '-p', 'sync_mean_interval_s:=0.2', '-p', 'sync_pulse_s:=0.01'], context=context)
    node = RewardNode(context=context)
    probe = rclpy.create_node('probe', context=context)
    events: list = []
    probe.create_subscription(RewardEvent, qos.REWARD_EVENT, events.append, qos.EVENT_QOS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(probe)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10.0
        while len([e for e in events if e.name == 'sync']) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        pin = node.outputs.pin(SYNC_OUTPUT)
    finally:
        node.close()
        executor.shutdown()
        rclpy.shutdown(context=context)
        thread.join(2.0)
    events = [e for e in events if e.name == 'sync']
    assert len(events) >= 6
    assert all(e.name == 'sync' and e.output == RewardCommand.OUTPUT_TTL and e.delivered for e in events)
    on_s = [e.on_time.sec + e.on_time.nanosec * 1e-9 for e in events]
    assert on_s == sorted(on_s) and len(set(on_s)) == len(on_s)
    # the recorded on times are the pulser's, and the header carries the same stamp
    assert all(abs(t - x) < 1e-6 for t, x in zip(on_s, node.sync.emitted_s))
    assert all(e.header.stamp == e.on_time for e in events)
    assert all(0.005 < e.duration_s < 0.2 for e in events)
    assert not pin.state


def test_the_reward_node_refuses_a_sync_pulse_as_long_as_the_shortest_interval():
    rclpy = pytest.importorskip('rclpy')
    import os

    from clopy_common.node_main import StartupError

    from clopy_reward.reward_node import RewardNode
    context = rclpy.context.Context()
    rclpy.init(args=['--ros-args', '-r', f'__ns:=/sync_bad_{os.getpid()}', '-p', 'simulate:=true',
                     '-p', 'sync_pin:=22', '-p', 'sync_mean_interval_s:=0.5', '-p', 'sync_pulse_s:=0.05'],
               context=context)
    try:
        with pytest.raises(StartupError, match=r'reward\.sync_pulse_s: 0\.05 s must be shorter than the shortest '
                                               r'interval, 0\.1 x sync_mean_interval_s = 0\.05 s'):
            RewardNode(context=context)
    finally:
        rclpy.shutdown(context=context)
