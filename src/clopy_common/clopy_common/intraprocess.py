"""In-process delivery on the hot path of a composed process (`clopy run --composed`).

rclpy has no intra-process communication: between two nodes of one process a message
still goes through DDS (serialised, handed to a DDS thread, queued for the executor),
about half a millisecond a hop here. In a composed process (run_nodes with several
nodes installs a LocalBus) the hot-path topics (camera -> signal -> task -> valve and
tone) also go straight from publisher to subscriber: `HotPublisher.publish` hands the
message object to every in-process subscriber (LocalBus: on the executor's thread, one
after the other, never one inside another), and publishes it to DDS as always, for the
recorder and every other process, once the in-process chain it started has run. The DDS copy
of a message whose publisher is in this process is dropped by the in-process
subscriber (it had the message already); from another process (a rig's camera
computer) messages arrive through DDS as before. Every DDS entity stays as it is, so
the graph, its start condition and its stop order look the same to everyone.

`call_soon` runs a function as an executor task that never raises into the executor
(an exception there would take the process down): it is printed and kept, and
run_nodes raises it (`raise_failure`).
"""
from __future__ import annotations

import threading
import traceback
from collections import Counter, defaultdict, deque
from typing import Callable

_failures: list[BaseException] = []
_bus: 'LocalBus | None' = None


def call_soon(executor, function: Callable, *args) -> None:
    """`function(*args)` on the executor's thread once the callback running now returns."""
    def run() -> None:
        try:
            function(*args)
        except BaseException as exc:  # noqa: BLE001 - kept, raised by run_nodes
            traceback.print_exc()
            _failures.append(exc)
    executor.create_task(run)


def raise_failure() -> None:
    """The first exception of a call_soon function, raised in the caller (run_nodes)."""
    if _failures:
        exc = _failures.pop(0)
        raise RuntimeError(f'a callback failed: {exc!r}') from exc


class LocalBus:
    """The in-process subscribers and publishers of the hot-path topics of one process.

    A message published on the executor's thread is queued for its subscribers, and the
    queue is drained there and then, first in first out: a subscriber that publishes in
    turn has its own subscribers called after it returns (never inside it), before the
    executor takes back control. So the camera's frame goes roi_dff -> task -> reward and
    tone in one turn of the executor. A message published on another thread (the
    camera's capture thread, the pose node's inference thread) first moves to the
    executor's thread (call_soon). An exception in a subscriber is printed and kept
    (run_nodes raises it); it never reaches the publisher."""

    def __init__(self, executor) -> None:
        self.executor = executor
        self.thread = threading.get_ident()   # the executor's (run_nodes spins in this thread)
        self.subscribers: dict[str, list[Callable]] = defaultdict(list)
        self.publishers: Counter = Counter()
        self._queue: deque = deque()   # (subscriber callback, message)
        self._later: deque = deque()   # (DDS publish, message): once the queue is empty
        self._draining = False

    def deliver(self, topic: str, msg, then: Callable | None = None) -> None:
        """`msg` to the subscribers of `topic` in this process; then `then(msg)` (the DDS
        publication, for the other processes), after every in-process subscriber the
        chain reaches has had its message: DDS never delays the valve."""
        if threading.get_ident() != self.thread:
            call_soon(self.executor, self.deliver, topic, msg, then)
            return
        self._queue.extend((callback, msg) for callback in self.subscribers.get(topic, ()))
        if then is not None:
            self._later.append((then, msg))
        if self._draining:
            return
        self._draining = True
        try:
            while self._queue or self._later:
                callback, item = (self._queue or self._later).popleft()
                try:
                    callback(item)
                except BaseException as exc:  # noqa: BLE001 - kept, raised by run_nodes
                    traceback.print_exc()
                    _failures.append(exc)
        finally:
            self._draining = False


def install(executor) -> LocalBus:
    """In-process delivery for the nodes made from now on in this process (run_nodes)."""
    global _bus
    _bus = LocalBus(executor)
    return _bus


def uninstall() -> None:
    global _bus
    _bus = None


class HotPublisher:
    """A DDS publisher that also hands each message to this process's subscribers first."""

    def __init__(self, node, msg_type, topic: str, qos) -> None:
        self.topic = topic
        self.dds = node.create_publisher(msg_type, topic, qos)
        self.bus = _bus
        if self.bus is not None:
            self.bus.publishers[topic] += 1

    def publish(self, msg) -> None:
        if self.bus is None:
            self.dds.publish(msg)
        else:
            self.bus.deliver(self.topic, msg, self.dds.publish)

    def get_subscription_count(self) -> int:
        return self.dds.get_subscription_count()


def hot_publisher(node, msg_type, topic: str, qos) -> HotPublisher:
    return HotPublisher(node, msg_type, topic, qos)


def hot_subscription(node, msg_type, topic: str, callback: Callable, qos):
    """The DDS subscription as always; in a composed process the messages of in-process
    publishers come straight from them (HotPublisher), and their DDS copies are dropped."""
    bus = _bus
    if bus is None:
        return node.create_subscription(msg_type, topic, callback, qos)
    bus.subscribers[topic].append(callback)

    def from_dds(msg) -> None:
        if not bus.publishers[topic]:   # the publisher is in another process
            callback(msg)
    return node.create_subscription(msg_type, topic, from_dds, qos)
