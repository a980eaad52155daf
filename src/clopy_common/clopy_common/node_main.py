"""The one `main()` every node uses: init, spin, and always clean up.

Ctrl-C and SIGTERM do not tear ROS down under the node's feet: they ask the
loop to stop, then the node's `close()` runs while ROS is still up, so it can
publish its last records (a task's run_end snapshot, a closed valve's event)
and flush files. A second Ctrl-C stops at once. `close()` also runs after an
exception and on normal exit, so a valve is closed and a file is flushed
whatever ends the process. Start-up errors (bad configuration) are printed as
one line naming the node and exit with status 2, without a traceback.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
import traceback
from typing import Callable

import rclpy
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


class StartupError(Exception):
    """Configuration that cannot work: message names the key and the value."""


UPSTREAM_WAIT_S = 5.0  # the longest a stopping node keeps working for its upstream nodes


def wait_for_upstream(node, executor) -> None:
    """Stop order kept by the graph itself: a node asked to stop keeps processing until
    the nodes feeding it have gone (no publisher left on its `upstream_topics`), then
    takes what is still queued. So whatever stops the graph (clopy run in order, or
    ros2 launch signalling every node at once), the camera's last frame still reaches
    roi_dff, the task and the recorder. Bounded by the node's `upstream_wait_s`."""
    topics = tuple(getattr(node, 'upstream_topics', ()))
    if not topics:
        return
    end = time.monotonic() + float(getattr(node, 'upstream_wait_s', UPSTREAM_WAIT_S))
    while rclpy.ok() and time.monotonic() < end and any(node.count_publishers(t) for t in topics):
        executor.spin_once(timeout_sec=0.02)
    quiet_end = min(end, time.monotonic() + 0.2)
    while rclpy.ok() and time.monotonic() < quiet_end:
        executor.spin_once(timeout_sec=0.02)


def run_node(factory: Callable[[], object], args=None, executor=None) -> int:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    node = None
    status = 0
    try:
        node = factory()
        executor = executor or SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not stop.is_set() and not getattr(node, 'finished', False):
            executor.spin_once(timeout_sec=0.05)
    except (StartupError, InvalidParameterTypeException) as exc:
        name = node.get_name() if node is not None else getattr(factory, '__name__', 'node')
        print(f'[{name}] configuration error: {exc}', file=sys.stderr, flush=True)
        status = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # noqa: BLE001 - report, then clean up below
        traceback.print_exc()
        status = 1
    finally:
        if node is not None and executor is not None and stop.is_set() and status == 0:
            try:
                wait_for_upstream(node, executor)
            except KeyboardInterrupt:
                pass
        # nothing interrupts the clean-up (valve shut, bag closed): a second Ctrl-C
        # or the SIGTERM that follows it waits until it is done
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    traceback.print_exc()
                    status = status or 1
            # let reliable messages published while closing reach their readers
            linger_end = time.monotonic() + float(getattr(node, 'linger_s', 0.0))
            while rclpy.ok() and time.monotonic() < linger_end:
                try:
                    rclpy.spin_once(node, timeout_sec=0.02)
                except Exception:  # noqa: BLE001
                    break
            try:
                node.destroy_node()
            except Exception:  # noqa: BLE001
                pass
        if rclpy.ok():
            rclpy.shutdown()
    return status or int(getattr(node, 'exit_status', 0) or 0)
