"""The one `main()` every node uses: init, spin, and always clean up.

`run_node` runs one node in its process; `run_nodes` several in one process on one
executor (the hot path of `clopy run --composed`, clopy.hotpath_node), stopped one
after the other in the reverse of their start order. The executor is the fastest this
rclpy has (`make_executor`: EventsExecutor, else the SingleThreadedExecutor).

Ctrl-C and SIGTERM do not tear ROS down under the node's feet: they ask the
loop to stop, then the node's `close()` runs while ROS is still up, so it can
publish its last records (a task's run_end snapshot, a closed valve's event)
and flush files. `close()` also runs after an exception and on normal exit, so
a valve is closed and a file is flushed whatever ends the process. Start-up
errors (bad configuration) are printed as one line naming the node and exit
with status 2, without a traceback.

Signals never cut the clean-up short (`StopRequest`):
- a repeat within `REPEAT_WINDOW_S` of the first stop signal is the same request
  (when `clopy run` dies, the kernel's parent-death signal can arrive two or three
  times a few ms apart);
- a later second Ctrl-C only cuts the wait for the upstream nodes short;
- once `close()` has begun every SIGINT/SIGTERM is absorbed, whichever thread the
  kernel delivers it to (the handler checks a flag; Python runs handlers in the
  main thread only).
The node learns that its parent process is gone (`node.parent_died`, set before
`close()`); a node whose parent dies without any signal stops as if asked to.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from typing import Callable

import rclpy
from rclpy._rclpy_pybind11 import InvalidHandle
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from clopy_common import intraprocess, realtime

#: a stop signal this soon after the first is the same request (parent-death repeats)
REPEAT_WINDOW_S = 1.0


class StartupError(Exception):
    """Configuration that cannot work: message names the key and the value."""


UPSTREAM_WAIT_S = 5.0  # the longest a stopping node keeps working for its upstream nodes


class StopRequest:
    """What SIGINT/SIGTERM asked for, as the signal handler records it (see the module
    docstring). `stop` is set by the first signal; `cut_short` by a second one more
    than REPEAT_WINDOW_S later; nothing at all once `closing` is set."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.first_s: float | None = None
        self.cut_short = False
        self.closing = False
        self.signals = 0          # every stop signal received, absorbed ones included
        self.parent_pid = os.getppid()

    def on_signal(self, signum, frame) -> None:
        self.signals += 1
        if self.closing:
            return
        now = time.monotonic()
        if not self.stop.is_set():
            self.first_s = now
            self.stop.set()
        elif now - self.first_s >= REPEAT_WINDOW_S:
            self.cut_short = True

    def parent_died(self) -> bool:
        """The process that started this one is gone (we were re-parented)."""
        return os.getppid() != self.parent_pid

    def install(self) -> None:
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)


def _publishers_elsewhere(node, topic: str) -> int:
    """Publishers on `topic` other than the node's own (a node that also publishes on
    a topic it waits for, e.g. session_end, never waits for itself)."""
    own = (node.get_name(), node.get_namespace())
    return sum(1 for info in node.get_publishers_info_by_topic(topic)
               if (info.node_name, info.node_namespace) != own)


def _spin(executor, timeout_sec: float) -> None:
    """One turn of the executor while nodes stop: an event queued for a node of this process
    that has already been destroyed (InvalidHandle; EventsExecutor) is skipped."""
    try:
        executor.spin_once(timeout_sec=timeout_sec)
    except InvalidHandle:
        pass


def wait_for_upstream(node, executor, cancelled: Callable[[], bool] = lambda: False) -> None:
    """Stop order kept by the graph itself: a node asked to stop keeps processing until
    the nodes feeding it have gone (no publisher of another node left on its
    `upstream_topics`), then takes what is still queued. So whatever stops the graph
    (clopy run in order, ros2 launch signalling every node at once, or the parent-death
    signal reaching every node of a killed clopy run), the camera's last frame still
    reaches roi_dff, the task and the recorder. Bounded by the node's `upstream_wait_s`;
    `cancelled()` true (a user's second Ctrl-C) ends the wait at once, and so does the
    node's `upstream_quiet()` when it has one and it says True (the recorder: nothing
    received for a while, so what is left on the topics is a killed process whose
    publishers the graph has not dropped yet)."""
    topics = tuple(getattr(node, 'upstream_topics', ()))
    if not topics:
        return
    quiet = getattr(node, 'upstream_quiet', None) or (lambda: False)
    end = time.monotonic() + float(getattr(node, 'upstream_wait_s', UPSTREAM_WAIT_S))
    while (rclpy.ok() and not cancelled() and not quiet() and time.monotonic() < end
           and any(_publishers_elsewhere(node, t) for t in topics)):
        _spin(executor, 0.02)
    quiet_end = min(end, time.monotonic() + 0.2)
    while rclpy.ok() and not cancelled() and time.monotonic() < quiet_end:
        _spin(executor, 0.02)


def make_executor():
    """The fastest executor this rclpy offers: rclpy.experimental.EventsExecutor where it
    exists (Jazzy and later), else the SingleThreadedExecutor (e.g. Humble). Returns
    (executor, a line saying which, for the log)."""
    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:
        return SingleThreadedExecutor(), ('executor: SingleThreadedExecutor (this rclpy has no '
                                          'rclpy.experimental.EventsExecutor)')
    return EventsExecutor(), 'executor: EventsExecutor'


def run_node(factory: Callable[[], object], args=None, executor=None) -> int:
    """One node in this process (every node's `main`)."""
    return run_nodes([factory], args, executor)


def _name_of(factory) -> str:
    return getattr(factory, '__name__', 'node')


def run_nodes(factories: list[Callable[[], object]], args=None, executor=None) -> int:
    """Several nodes in one process on one executor (`factories` in start order; with one
    factory: a node's own process). The first node that finishes (its `finished`) or a
    stop signal stops them all, in the reverse of the start order, as separate processes
    are stopped: each node asked to stop first works on until its upstream nodes have gone
    (wait_for_upstream), while the executor keeps the others turning; then its `close()`,
    its linger and its end. A start-up error of any node stops the ones already made.
    The exit status is the first non-zero one of the process or a node."""
    label = '+'.join(_startup_name(_name_of(f)) for f in factories)   # the process in its log lines
    try:   # before rclpy.init: the threads ROS starts inherit it
        said_rt = realtime.apply(realtime.requested_priority())
    except ValueError as exc:
        print(f'[{label}] configuration error: {exc}', file=sys.stderr, flush=True)
        return 2
    if said_rt:
        print(f'[{label}] {said_rt}', file=sys.stderr, flush=True)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    request = StopRequest()
    request.install()
    nodes: list = []
    status = 0
    failed = None   # the factory whose node could not be made
    try:
        if executor is None:
            executor, said = make_executor()
            if len(factories) > 1 or 'SingleThreaded' in said:   # said once, in the log
                print(f'[{label}] {said}', file=sys.stderr, flush=True)
        if len(factories) > 1:   # the hot-path topics go straight from node to node
            intraprocess.install(executor)
        for factory in factories:
            failed = factory
            node = factory()
            node.stop_request = request
            node.parent_died = False
            nodes.append(node)
            executor.add_node(node)
        failed = None
        next_parent_check = 0.0
        while rclpy.ok() and not request.stop.is_set() and not any(getattr(n, 'finished', False) for n in nodes):
            executor.spin_once(timeout_sec=0.05)
            intraprocess.raise_failure()
            if time.monotonic() >= next_parent_check:
                next_parent_check = time.monotonic() + 0.5
                if request.parent_died():   # orphaned without a signal: stop as if asked to
                    request.stop.set()
    except (StartupError, InvalidParameterTypeException) as exc:
        name = _startup_name(_name_of(failed)) if failed is not None else nodes[-1].get_name()
        print(f'[{name}] configuration error: {exc}', file=sys.stderr, flush=True)
        status = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # noqa: BLE001 - report, then clean up below
        traceback.print_exc()
        status = 1
    finally:
        status = _stop_nodes(nodes, executor, request, status)
        intraprocess.uninstall()
        if rclpy.ok():
            rclpy.shutdown()
    return status or next((int(getattr(n, 'exit_status', 0) or 0) for n in nodes
                           if getattr(n, 'exit_status', 0)), 0)


def _startup_name(name: str) -> str:
    """A node class's name as its graph name: CameraNode -> camera, RoiDffNode -> roi_dff."""
    if name.endswith('Node'):
        name = name[:-4]
    return ''.join(f'_{c.lower()}' if c.isupper() and i else c.lower() for i, c in enumerate(name)) or 'node'


def _stop_nodes(nodes: list, executor, request: StopRequest, status: int) -> int:
    """The ordered stop of run_nodes: the last started first."""
    for node in reversed(nodes):
        # asked to stop (a signal; in a shared process also another node's end) and not
        # ended by itself: first work on until the nodes feeding this one have gone
        asked = request.stop.is_set() if len(nodes) == 1 else not getattr(node, 'finished', False)
        if executor is not None and status == 0 and asked:
            node.parent_died = request.parent_died()
            try:
                wait_for_upstream(node, executor, lambda: request.cut_short)
            except Exception:  # noqa: BLE001 - the clean-up below still runs
                traceback.print_exc()
        # nothing interrupts the clean-up (valve shut, bag closed): every later
        # SIGINT/SIGTERM, in whatever thread it lands, is absorbed
        request.closing = True
        node.parent_died = getattr(node, 'parent_died', False) or request.parent_died()
        close = getattr(node, 'close', None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                status = status or 1
        # a closed node's timers fire no more; what they had queued runs in the linger below,
        # while the node still exists
        for timer in list(node.timers):
            timer.cancel()
        # let reliable messages published while closing reach their readers
        linger_end = time.monotonic() + max(float(getattr(node, 'linger_s', 0.0)), 0.05)
        while rclpy.ok() and time.monotonic() < linger_end:
            try:
                if executor is not None:
                    _spin(executor, 0.02)
                else:
                    rclpy.spin_once(node, timeout_sec=0.02)
            except Exception:  # noqa: BLE001
                break
        try:
            if executor is not None:
                executor.remove_node(node)
            node.destroy_node()
        except Exception:  # noqa: BLE001
            pass
    return status
