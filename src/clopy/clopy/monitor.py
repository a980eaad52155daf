"""The graph node of `clopy run`: whether every subscription is matched, which nodes of
the other computer of a rig are in the graph, the task's session_status, why the
session ended (the first session_end record), the task's warnings and errors as they
arrive, and clopy run's own session_end record for what only it sees."""
from __future__ import annotations

import time
from typing import Callable

from clopy import rig

STATUS_FIELDS = ('paradigm', 'session_type', 'state', 'trial', 'total_trials', 'successes', 'failures',
                 'rewards_delivered', 'threshold', 'frame_rate_hz', 'frames', 'dropped_frames', 'elapsed_s',
                 'running', 'rewards_refused', 'stalled', 'stalled_s', 'invalid_frames', 'warning')

#: the topics this node subscribes to (not counted as the session's subscribers)
MONITOR_SUBSCRIPTIONS = ('session_status', 'session_end', 'task_event', 'reward_event')


class Monitor:
    """An rclpy node of the runner: graph checks, session_status, session_end, task_event.

    `on_alert(type, subtype, content)` is called for every task_event row of type
    warning or error, as it arrives."""

    def __init__(self, name: str = 'clopy_run_monitor',
                 on_alert: Callable[[str, str, str], None] | None = None) -> None:
        import rclpy
        from clopy_common import qos
        from clopy_common.session_end import SessionEnder
        from clopy_interfaces.msg import RewardEvent, SessionEnd, SessionStatus, TaskEvent
        self.rclpy = rclpy
        self.node = rclpy.create_node(name)
        self.status: dict = {}
        self.was_running = False
        self.session_end: dict | None = None   # the first record: reason, node, error
        self.rewards_refused = 0               # as the reward node counts them
        self.on_alert = on_alert or (lambda kind, subtype, content: None)
        self.ender = SessionEnder(self.node)
        self.node.create_subscription(SessionStatus, qos.SESSION_STATUS, self._on_status, qos.STATUS_QOS)
        self.node.create_subscription(SessionEnd, qos.SESSION_END, self._on_end, qos.SESSION_END_QOS)
        self.node.create_subscription(TaskEvent, qos.TASK_EVENT, self._on_task_event, qos.EVENT_QOS)
        self.node.create_subscription(RewardEvent, qos.REWARD_EVENT, self._on_reward_event, qos.EVENT_QOS)

    def _on_status(self, msg) -> None:
        self.status = {f: getattr(msg, f) for f in STATUS_FIELDS}
        self.was_running = self.was_running or msg.running

    def _on_end(self, msg) -> None:
        if self.session_end is None:
            from clopy_common.session_end import end_message_fields
            self.session_end = end_message_fields(msg)

    def _on_task_event(self, msg) -> None:
        if msg.type in ('warning', 'error'):
            self.on_alert(msg.type, msg.subtype, msg.content)

    def _on_reward_event(self, msg) -> None:
        self.rewards_refused = max(self.rewards_refused, int(msg.rewards_refused))

    @property
    def refused(self) -> int:
        """Valve commands refused in the session, by the reward node's or the task's count."""
        return max(self.rewards_refused, int(self.status.get('rewards_refused', 0)))

    def end(self, reason: str, error: bool) -> None:
        """Say why the session ends (what only clopy run sees: Ctrl-C, a node that died),
        unless a node said it already; the record reaches the recorder before any node
        is stopped."""
        if self.session_end is not None:
            return
        self.ender.end(reason, error=error, stop=False, log=False)
        self.session_end = {'reason': reason, 'node': self.node.get_name(), 'error': bool(error)}
        self.spin(0.2)

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=max(0.0, min(0.05, end - time.monotonic())))

    def _subscribers(self, topic: str) -> int:
        """Subscribers on `topic` other than this monitor."""
        return self.node.count_subscribers(topic) - (1 if topic in MONITOR_SUBSCRIPTIONS else 0)

    def unmatched(self, required: dict[str, int]) -> dict[str, int]:
        return {topic: n for topic, n in required.items() if self._subscribers(topic) < n}

    def absent(self, names: list[str]) -> list[str]:
        """Those of `names` (nodes on the other computer) not in the graph, told by the topic
        each one alone publishes or subscribes to (rig.PRESENCE)."""
        count = {'pub': self.node.count_publishers, 'sub': self._subscribers}
        return [n for n in names if count[rig.PRESENCE[n][1]](rig.PRESENCE[n][0]) < 1]

    def wait_gone(self, names: list[str], timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while len(self.absent(names)) < len(names) and time.monotonic() < end:
            self.spin(0.1)

    def close(self) -> None:
        self.node.destroy_node()
