"""The graph node of `clopy run`: whether every subscription is matched, which nodes of
the other computer of a rig are in the graph, and the task's session_status."""
from __future__ import annotations

import time

from clopy import rig


class Monitor:
    """An rclpy node of the runner: graph checks and session_status."""

    def __init__(self, name: str = 'clopy_run_monitor') -> None:
        import rclpy
        from clopy_common import qos
        from clopy_interfaces.msg import SessionStatus
        self.rclpy = rclpy
        self.node = rclpy.create_node(name)
        self.status: dict = {}
        self.was_running = False
        self.node.create_subscription(SessionStatus, qos.SESSION_STATUS, self._on_status, qos.STATUS_QOS)

    def _on_status(self, msg) -> None:
        self.status = {f: getattr(msg, f) for f in (
            'paradigm', 'session_type', 'state', 'trial', 'total_trials', 'successes', 'failures',
            'rewards_delivered', 'threshold', 'frame_rate_hz', 'frames', 'dropped_frames', 'elapsed_s',
            'running')}
        self.was_running = self.was_running or msg.running

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=max(0.0, min(0.05, end - time.monotonic())))

    def unmatched(self, required: dict[str, int]) -> dict[str, int]:
        return {topic: n for topic, n in required.items()
                if self.node.count_subscribers(topic) < n + (1 if topic == 'session_status' else 0)}

    def absent(self, names: list[str]) -> list[str]:
        """Those of `names` (nodes on the other computer) not in the graph, told by the topic
        each one alone publishes or subscribes to (rig.PRESENCE)."""
        count = {'pub': self.node.count_publishers, 'sub': self.node.count_subscribers}
        return [n for n in names if count[rig.PRESENCE[n][1]](rig.PRESENCE[n][0]) < 1]

    def wait_gone(self, names: list[str], timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while len(self.absent(names)) < len(names) and time.monotonic() < end:
            self.spin(0.1)

    def close(self) -> None:
        self.node.destroy_node()
