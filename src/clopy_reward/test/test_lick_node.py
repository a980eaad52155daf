"""The lick node in real rclpy: in simulation (the same backend code on the simulated
MPR121 register map or on gpiozero mock pins) the simulated mouse licks after a valve
opening and each debounced touch change is published on `lick`; on a computer without
the sensor a real session stops at start with an error naming the bus and address or
the pin. Each test runs in its own namespace."""
from __future__ import annotations

import os
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from clopy_common import qos  # noqa: E402
from clopy_common.node_main import StartupError  # noqa: E402
from clopy_common.stamps import from_s  # noqa: E402
from clopy_interfaces.msg import Lick, RewardEvent  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from clopy_reward.lick_node import LickNode  # noqa: E402

NO_SPONTANEOUS = {'sim.spontaneous_rate_hz': 0.0}


class Probe:
    """A lick node with the given parameters, in its own context and namespace, and a probe
    node that keeps what it publishes on `lick` and can announce a valve opening. Both are
    spun in the test's own thread (``spin_until``)."""

    def __init__(self, context, node):
        self.context, self.node = context, node
        self.probe = rclpy.create_node('probe', context=context)
        self.licks: list[Lick] = []
        self.probe.create_subscription(Lick, qos.LICK, self.licks.append, qos.EVENT_QOS)
        self.rewards = self.probe.create_publisher(RewardEvent, qos.REWARD_EVENT, qos.EVENT_QOS)
        self.executor = SingleThreadedExecutor(context=context)
        for n in (node, self.probe):
            self.executor.add_node(n)

    def spin_until(self, done, timeout_s: float = 8.0) -> bool:
        end = time.monotonic() + timeout_s
        while not done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)
        return done()

    def valve_opens(self) -> float:
        msg = RewardEvent()
        now_s = self.probe.get_clock().now().nanoseconds * 1e-9
        msg.name, msg.delivered, msg.opened = 'valve', True, True
        msg.on_time = from_s(now_s)
        self.rewards.publish(msg)
        return now_s


@pytest.fixture
def lick_node():
    """lick_node(**params) -> Probe around a started LickNode (StartupError passes through)."""
    made = []

    def start(**params):
        args = ['--ros-args', '-r', f'__ns:=/lick_test_{os.getpid()}_{time.monotonic_ns()}']
        args += [a for key, value in params.items() for a in ('-p', f'{key}:={value}')]
        context = rclpy.context.Context()
        rclpy.init(args=args, context=context)
        made.append((context, None))
        node = LickNode(context=context)
        made[-1] = (context, Probe(context, node))
        return made[-1][1]
    yield start
    for context, probe in made:
        if probe is not None:
            probe.node.close()
            probe.executor.shutdown()
            probe.node.destroy_node()
            probe.probe.destroy_node()
        rclpy.shutdown(context=context)


def s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


@pytest.mark.parametrize('backend,sensor', [('mpr121', 'mpr121 i2c-1 0x5a (simulated) electrode 0'),
                                            ('gpio', 'gpio BCM5')])
def test_a_simulated_mouse_licks_a_bout_after_the_valve_opens(lick_node, backend, sensor):
    g = lick_node(backend=backend, simulate=True, **NO_SPONTANEOUS)
    assert g.spin_until(lambda: g.rewards.get_subscription_count() > 0), 'the lick node never subscribed'
    g.spin_until(lambda: False, timeout_s=0.3)
    assert g.licks == [], 'no reward, no spontaneous licks: nothing'
    opened_s = g.valve_opens()
    assert g.spin_until(lambda: len(g.licks) >= 8), [(m.touching, s(m.header.stamp)) for m in g.licks]
    touches = [m for m in g.licks if m.touching]
    assert s(touches[0].header.stamp) - opened_s >= 0.1   # the bout's latency (0.1-0.3 s), never earlier
    assert [m.touching for m in g.licks[:8]] == [True, False] * 4
    assert [m.count for m in touches] == list(range(1, len(touches) + 1))
    releases = [m for m in g.licks if not m.touching]
    assert all(0.0 < m.duration_s < 1.0 / 6 for m in releases)   # a touch is shorter than a lick period
    assert all(m.sensor == sensor and m.simulated and m.electrode == 0 for m in g.licks)


def test_a_session_without_the_mpr121_stops_naming_bus_and_address(lick_node):
    with pytest.raises(StartupError, match=r'lick sensor \(mpr121\): I2C i2c-250 0x5a: .*(smbus2|/dev/i2c-250)'):
        lick_node(backend='mpr121', i2c_bus=250)


def test_a_session_without_gpio_stops_naming_what_to_do(lick_node):
    with pytest.raises(StartupError, match=r'lick sensor \(gpio\): lickometer on BCM pin 5: '):
        lick_node(backend='gpio')


def test_release_threshold_must_be_below_touch_threshold(lick_node):
    with pytest.raises(StartupError, match=r'lick.release_threshold = 20: allowed: below lick.touch_threshold'):
        lick_node(simulate=True, touch_threshold=12, release_threshold=20)
