"""The reward node in real rclpy, on gpiozero mock pins: the valve ceiling at start, the
override recorded in the session, an opening record before the closing one, the
session's counters and water, and the water cap ending the session.

Each test runs the node and a probe node in their own namespace (nothing else on
the domain can reach them) and talks to the node over its real topics."""
from __future__ import annotations

import os
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from clopy_common import qos  # noqa: E402
from clopy_common.node_main import StartupError  # noqa: E402
from clopy_interfaces.msg import RewardCommand, RewardEvent, SessionEnd, TaskEvent  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from clopy_reward.reward_node import RewardNode  # noqa: E402


class Graph:
    """A reward node with the given parameters, a probe that commands it and keeps
    what it publishes, and an executor spinning both in a thread."""

    def __init__(self, **params):
        ns = f'/reward_test_{os.getpid()}_{time.monotonic_ns()}'
        args = ['--ros-args', '-r', f'__ns:={ns}', '-p', 'simulate:=true']
        for key, value in params.items():
            args += ['-p', f'{key}:={value}']
        self.context = rclpy.context.Context()
        rclpy.init(args=args, context=self.context)
        self.executor = None
        try:
            self.node = RewardNode(context=self.context)
        except BaseException:
            rclpy.shutdown(context=self.context)
            raise
        self.probe = rclpy.create_node('probe', context=self.context)
        self.events: list[RewardEvent] = []
        self.task_events: list[TaskEvent] = []
        self.ends: list[SessionEnd] = []
        self.probe.create_subscription(RewardEvent, qos.REWARD_EVENT, self.events.append, qos.EVENT_QOS)
        self.probe.create_subscription(TaskEvent, qos.TASK_EVENT, self.task_events.append, qos.EVENT_QOS)
        self.probe.create_subscription(SessionEnd, qos.SESSION_END, self.ends.append, qos.SESSION_END_QOS)
        self.commands = self.probe.create_publisher(RewardCommand, qos.REWARD, qos.VALVE_COMMAND_QOS)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        assert self.wait(lambda: self.commands.get_subscription_count() > 0), 'the reward node never subscribed'

    def wait(self, condition, timeout_s: float = 5.0) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(0.01)
        return condition()

    def valve(self, duration_s: float, frame_index: int) -> None:
        cmd = RewardCommand()
        cmd.header.stamp = self.probe.get_clock().now().to_msg()
        cmd.output = RewardCommand.OUTPUT_VALVE
        cmd.duration_s = float(duration_s)
        cmd.reason = 'success'
        cmd.frame_index = frame_index
        self.commands.publish(cmd)

    def valve_records(self, n: int) -> list[RewardEvent]:
        assert self.wait(lambda: len([e for e in self.events if e.output == 0]) >= n), self.events
        return [e for e in self.events if e.output == 0]

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


def _ns(t) -> int:
    return t.sec * 1_000_000_000 + t.nanosec


def test_a_limit_above_the_ceiling_stops_the_node_at_start(graphs):
    with pytest.raises(StartupError, match=r'reward.max_valve_open_s = 5.0: allowed: at most 2.0 s'):
        graphs(max_valve_open_s=5.0)
    with pytest.raises(StartupError, match=r'reward.valve_ceiling_override_s = 4.0: allowed: at least'):
        graphs(max_valve_open_s=5.0, valve_ceiling_override_s=4.0)
    with pytest.raises(StartupError, match=r'reward.valve_pulse_s = 1.5: allowed: at most reward.max_valve_open_s'):
        graphs(valve_pulse_s=1.5)


def test_an_override_is_accepted_and_recorded_as_a_session_warning(graphs):
    g = graphs(max_valve_open_s=3.0, valve_ceiling_override_s=3.0)
    assert g.wait(lambda: g.task_events)
    (event,) = g.task_events
    assert (event.type, event.subtype, event.time_s) == ('warning', 'valve_ceiling_override', 0.0)
    assert 'reward.valve_ceiling_override_s = 3.0' in event.content
    # the raised limit is the one the valve keeps: 3.5 s is still refused, naming it
    g.valve(3.5, 1)
    (refused,) = g.valve_records(1)
    assert not refused.delivered and 'limit of 3.0 s' in refused.note
    assert not g.node.outputs.pin('valve').state


def test_no_override_no_warning(graphs):
    g = graphs()
    g.valve(0.02, 1)
    g.valve_records(2)
    assert not g.task_events


def test_the_opening_is_recorded_before_the_closing_with_the_same_on_time(graphs):
    g = graphs()
    g.valve(0.1, 7)
    opened, closed = g.valve_records(2)
    assert opened.opened and opened.delivered and not closed.opened and closed.delivered
    assert _ns(opened.on_time) > 0 and _ns(opened.off_time) == 0 and opened.duration_s == 0.0
    assert _ns(closed.on_time) == _ns(opened.on_time)
    assert _ns(closed.off_time) > _ns(closed.on_time)
    assert closed.duration_s == pytest.approx(0.1, abs=0.02)
    assert opened.frame_index == closed.frame_index == 7
    assert opened.rewards_delivered == closed.rewards_delivered == 1
    # the pin went high once, for that pulse
    assert [s.state for s in g.node.outputs.pin('valve').states][-2:] == [True, False]


def test_counters_count_openings_and_refusals(graphs):
    g = graphs()
    g.valve(0.02, 1)
    g.valve_records(2)
    g.valve(5.0, 2)            # over max_valve_open_s = 1.0: refused
    g.valve_records(3)
    g.valve(0.02, 3)
    records = g.valve_records(5)
    refused = [e for e in records if not e.delivered]
    assert len(refused) == 1 and 'exceeds the valve limit' in refused[0].note and not refused[0].opened
    assert refused[0].rewards_refused == 1 and refused[0].rewards_delivered == 1
    last = records[-1]
    assert (last.rewards_delivered, last.rewards_refused) == (2, 1)
    assert [e.opened for e in records] == [True, False, False, True, False]


def test_water_is_flow_times_the_measured_open_time(graphs):
    g = graphs(valve_flow_ul_per_ms=0.05)
    g.valve(0.1, 1)
    g.valve_records(2)
    g.valve(0.05, 2)
    records = g.valve_records(4)
    first, second = records[1], records[3]
    assert first.water_ul == pytest.approx(0.05 * first.duration_s * 1000)
    assert second.water_ul == pytest.approx(first.water_ul + 0.05 * second.duration_s * 1000)
    assert records[2].water_ul == first.water_ul   # the opening record: what was given before it


def test_the_pulse_reaching_the_cap_is_given_then_the_session_ends(graphs):
    g = graphs(max_rewards=2)
    g.valve(0.02, 1)
    g.valve_records(2)
    g.valve(0.05, 2)
    g.valve_records(4)
    assert g.wait(lambda: g.ends)
    (end,) = g.ends
    assert end.reason.startswith('water cap reached: 2 valve openings, ')
    assert not end.error and end.node == 'reward'
    assert g.node.finished and int(getattr(g.node, 'exit_status', 0) or 0) == 0
    g.valve(0.02, 3)            # after the cap: refused, saying why
    records = g.valve_records(5)
    assert not records[-1].delivered and 'water cap reached' in records[-1].note
    assert records[-1].rewards_refused == 1 and records[-1].rewards_delivered == 2
    assert not g.node.outputs.pin('valve').state


def test_the_ml_cap_when_calibrated(graphs):
    g = graphs(valve_flow_ul_per_ms=1.0, max_water_ml=0.1)    # 100 µl; 60 µl a pulse
    g.valve(0.06, 1)
    g.valve_records(2)
    assert not g.ends
    g.valve(0.06, 2)
    records = g.valve_records(4)
    assert g.wait(lambda: g.ends)
    assert g.ends[0].reason == f'water cap reached: 2 valve openings, {records[-1].water_ul / 1000:.3f} ml'
    assert records[-1].water_ul >= 100.0
