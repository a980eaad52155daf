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

import errno
import signal

from clopy_interfaces.msg import SessionEnd

from clopy_common import qos

#: exit status of a node that ended the session because of a fault it announced
ENDED_WITH_ERROR = 3

# end reasons said in more than one place (docs/recording.md lists them all)
ALL_TRIALS_DONE = 'all trials done'
END_OF_RECORDING = 'end of the recording'
STOPPED_BY_USER = 'stopped by the user'
CLOPY_RUN_DIED = 'clopy run died'


def exit_reason(name: str, code: int) -> tuple[str, bool]:
    """(reason, error) for a node process that exited without saying why, by its exit
    status alone: the task's 0 is every trial done, the camera's 0 the end of its
    recording; a signal is `node <name> died (SIGKILL)`; any other status is an error."""
    if code == 0 and name == 'task':
        return ALL_TRIALS_DONE, False
    if code == 0 and name == 'camera':
        return END_OF_RECORDING, False
    if code < 0:
        try:
            how = signal.Signals(-code).name
        except ValueError:
            how = f'signal {-code}'
        return f'node {name} died ({how})', True
    if code == 0:
        return f'node {name} died (exit 0)', True
    return f'{name} failed: exit {code}', True


def disk_full(free_mb: float | None = None, limit_mb: float | None = None, cause: str = '') -> str:
    """'disk full: <x> MB free (limit <y> MB)', or 'disk full: <errno text>'."""
    if free_mb is not None:
        return f'disk full: {free_mb:.0f} MB free (limit {limit_mb:.0f} MB)'
    return f'disk full: {cause}'


def disk_error(exc: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT OSError that `exc` is or was caused by (a library's own error
    wrapping it included), else None."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


class SessionEnder:
    """The node's publisher on session_end; created in the node's __init__ so it is
    matched long before it is needed."""

    def __init__(self, node) -> None:
        self.node = node
        self.publisher = node.create_publisher(SessionEnd, qos.SESSION_END, qos.SESSION_END_QOS)
        self.reason: str | None = None

    def end(self, reason: str, error: bool = False, stop: bool = True, log: bool = True) -> None:
        """Publish why the session ends (once; later calls are ignored) and, with
        `stop`, ask the node to stop with exit status 0 or ENDED_WITH_ERROR; `log`
        false leaves the saying to the caller (clopy run's own end line)."""
        if self.reason is not None:
            return
        self.reason = reason
        msg = SessionEnd()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.reason = reason
        msg.node = self.node.get_name()
        msg.error = bool(error)
        if stop:   # the node's state first: whoever hears the record finds the node stopping
            self.node.finished = True
            if error:
                self.node.exit_status = ENDED_WITH_ERROR
            # the record reaches the recorder and clopy run before the process goes
            self.node.linger_s = max(float(getattr(self.node, 'linger_s', 0.0)), 0.5)
        self.publisher.publish(msg)
        if log:
            logger = self.node.get_logger()
            (logger.error if error else logger.info)(f'session ends: {reason}')


def end_message_fields(msg) -> dict:
    """A received SessionEnd as a plain dict (for the recorder and clopy run)."""
    return {'reason': msg.reason, 'node': msg.node, 'error': bool(msg.error),
            'stamp_s': msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9}
