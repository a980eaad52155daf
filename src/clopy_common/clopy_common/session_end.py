"""Why a session ended, said once on `session_end` (clopy_interfaces/SessionEnd).

A node that ends the session itself (the task when every trial is done or the camera
stalled too long, the camera at the end of a recording or without a first frame, the
reward node at the water cap, the recorder on a full disk) says why, then stops:
`SessionEnder.end(reason, error)` publishes the record, sets the node's exit status
(0, or ENDED_WITH_ERROR) and asks `run_node` to stop. `clopy run` says why for what
only it sees (Ctrl-C, a node that died). The recorder keeps the first record it
receives: the cause, not its effects.
"""
from __future__ import annotations

from clopy_interfaces.msg import SessionEnd

from clopy_common import qos

#: exit status of a node that ended the session because of a fault it announced
ENDED_WITH_ERROR = 3


class SessionEnder:
    """The node's publisher on session_end; created in the node's __init__ so it is
    matched long before it is needed."""

    def __init__(self, node) -> None:
        self.node = node
        self.publisher = node.create_publisher(SessionEnd, qos.SESSION_END, qos.SESSION_END_QOS)
        self.reason: str | None = None

    def end(self, reason: str, error: bool = False, stop: bool = True) -> None:
        """Publish why the session ends (once; later calls are ignored) and, with
        `stop`, ask the node to stop with exit status 0 or ENDED_WITH_ERROR."""
        if self.reason is not None:
            return
        self.reason = reason
        msg = SessionEnd()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.reason = reason
        msg.node = self.node.get_name()
        msg.error = bool(error)
        self.publisher.publish(msg)
        log = self.node.get_logger()
        (log.error if error else log.info)(f'session ends: {reason}')
        if stop:
            self.node.finished = True
            if error:
                self.node.exit_status = ENDED_WITH_ERROR
            # the record reaches the recorder and clopy run before the process goes
            self.node.linger_s = max(float(getattr(self.node, 'linger_s', 0.0)), 0.5)


def end_message_fields(msg) -> dict:
    """A received SessionEnd as a plain dict (for the recorder and clopy run)."""
    return {'reason': msg.reason, 'node': msg.node, 'error': bool(msg.error),
            'stamp_s': msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9}
