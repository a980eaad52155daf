"""The lick node in real rclpy: in simulation (the same backend code on the simulated
MPR121 register map or on gpiozero mock pins) the simulated mouse licks after a valve
opening and each debounced touch change is published on `lick`; on a computer without
the sensor a real session stops at start with an error naming the bus and address or
the pin. Each test runs in its own namespace."""
from __future__ import annotations

import os
import threading
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


class Graph:
    def __init__(self, **params):
        ns = f'/lick_test_{os.getpid()}_{time.monotonic_ns()}'
        args = ['--ros-args', '-r', f'__ns:={ns}']
        for key, value in params.items():
            args += ['-p', f'{key}:={value}']
        self.context = rclpy.context.Context()
        rclpy.init(args=args, context=self.context)
        self.executor = None
        try:
            self.node = LickNode(context=self.context)
        except BaseException:
            rclpy.shutdown(context=self.context)
            raise
        self.probe = rclpy.create_node('probe', context=self.context)
        self.licks: list[Lick] = []
        self.probe.create_subscription(Lick, qos.LICK, self.licks.append, qos.EVENT_QOS)
        self.rewards = self.probe.create_publisher(RewardEvent, qos.REWARD_EVENT, qos.EVENT_QOS)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        threading.Thread(target=self.executor.spin, daemon=True).start()
        assert self.wait(lambda: self.rewards.get_subscription_count() > 0), 'the lick node never subscribed'

    def wait(self, condition, timeout_s: float = 8.0) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(0.01)
        return condition()

    def valve_opens(self) -> float:
        msg = RewardEvent()
        now_s = self.probe.get_clock().now().nanoseconds * 1e-9
        msg.name, msg.delivered, msg.opened = 'valve', True, True
        msg.on_time = from_s(now_s)
        self.rewards.publish(msg)
        return now_s

    def close(self) -> None:
        self.node.close()
        self.executor.shutdown()
        self.node.destroy_node()
        self.probe.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def graphs():
    made = []

    def make(**params):
        made.append(Graph(**params))
        return made[-1]
    yield make
    for g in made:
        g.close()


def s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


@pytest.mark.parametrize('backend,sensor', [('mpr121', 'mpr121 i2c-1 0x5a (simulated) electrode 0'),
                                            ('gpio', 'gpio BCM5')])
def test_a_simulated_mouse_licks_a_bout_after_the_valve_opens(graphs, backend, sensor):
    g = graphs(backend=backend, simulate=True, **NO_SPONTANEOUS)
    time.sleep(0.3)
    assert g.licks == [], 'no reward, no spontaneous licks: nothing'
    opened_s = g.valve_opens()
    assert g.wait(lambda: len(g.licks) >= 8), [(m.touching, s(m.header.stamp)) for m in g.licks]
    touches = [m for m in g.licks if m.touching]
    assert s(touches[0].header.stamp) - opened_s >= 0.1   # the bout's latency (0.1-0.3 s), never earlier
    assert [m.touching for m in g.licks[:8]] == [True, False] * 4
    assert [m.count for m in touches] == list(range(1, len(touches) + 1))
    releases = [m for m in g.licks if not m.touching]
    assert all(0.0 < m.duration_s < 1.0 / 6 for m in releases)   # a touch is shorter than a lick period
    assert all(m.sensor == sensor and m.simulated and m.electrode == 0 for m in g.licks)


def test_a_session_without_the_mpr121_stops_naming_bus_and_address(graphs):
    with pytest.raises(StartupError, match=r'lick sensor \(mpr121\): .*(smbus2|/dev/i2c-250)'):
        graphs(backend='mpr121', i2c_bus=250)


def test_a_session_without_gpio_stops_naming_what_to_do(graphs):
    with pytest.raises(StartupError, match=r'lick sensor \(gpio\): .*(GPIO|BCM pin 5)'):
        graphs(backend='gpio')


def test_release_threshold_must_be_below_touch_threshold(graphs):
    with pytest.raises(StartupError, match=r'lick.release_threshold = 20: allowed: below lick.touch_threshold'):
        graphs(simulate=True, touch_threshold=12, release_threshold=20)
