"""In-process delivery of the hot-path topics (clopy_common.intraprocess) with real rclpy
nodes on one EventsExecutor: each message reaches an in-process subscriber once (its DDS
copy is dropped), subscribers run one after the other in publication order (never one
inside another), DDS publication comes after the chain, a message from another thread
moves to the executor's thread, and a subscriber's exception never reaches its publisher."""
from __future__ import annotations

import threading
import time

import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Int64

from clopy_common import intraprocess
from clopy_common.node_main import make_executor

QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture
def graph():
    rclpy.init()
    executor, _ = make_executor()
    bus = intraprocess.install(executor)
    nodes = []

    def node(name):
        n = rclpy.create_node(name)
        executor.add_node(n)
        nodes.append(n)
        return n

    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.02)
    yield node, spin, bus
    intraprocess.uninstall()
    for n in nodes:
        executor.remove_node(n)
        n.destroy_node()
    rclpy.shutdown()


def test_a_chain_runs_in_order_once_each_with_dds_after_it(graph):
    node, spin, _ = graph
    a, b, c = node('ip_a'), node('ip_b'), node('ip_c')
    order = []
    pub_ab = intraprocess.hot_publisher(a, Int64, 'ip_ab', QOS)
    pub_bc = intraprocess.hot_publisher(b, Int64, 'ip_bc', QOS)

    def on_b(msg):
        order.append(('b start', msg.data))
        pub_bc.publish(Int64(data=msg.data * 10))   # c runs after b returns, not inside it
        order.append(('b end', msg.data))
    intraprocess.hot_subscription(b, Int64, 'ip_ab', on_b, QOS)
    intraprocess.hot_subscription(c, Int64, 'ip_bc', lambda m: order.append(('c', m.data)), QOS)
    # a plain DDS reader in the same process still gets every message (what the recorder sees)
    seen = []
    c.create_subscription(Int64, 'ip_bc', lambda m: seen.append(m.data), QOS)
    spin(0.5)
    done = []
    a.create_timer(0.05, lambda: (not done) and (done.append(1), pub_ab.publish(Int64(data=1)),
                                                  pub_ab.publish(Int64(data=2))))
    spin(1.0)
    # each publication's chain runs to its end before the publisher goes on
    assert order == [('b start', 1), ('b end', 1), ('c', 10), ('b start', 2), ('b end', 2), ('c', 20)]
    assert seen == [10, 20]


def test_a_message_from_another_thread_runs_on_the_executor_thread(graph):
    node, spin, bus = graph
    a, b = node('ip_t_a'), node('ip_t_b')
    pub = intraprocess.hot_publisher(a, Int64, 'ip_t', QOS)
    threads = []
    intraprocess.hot_subscription(b, Int64, 'ip_t', lambda m: threads.append(threading.get_ident()), QOS)
    spin(0.3)
    worker = threading.Thread(target=lambda: [pub.publish(Int64(data=i)) for i in range(5)])
    worker.start()
    worker.join()
    spin(0.5)
    assert threads == [bus.thread] * 5


def test_a_subscriber_that_raises_is_kept_for_run_nodes(graph):
    node, spin, _ = graph
    a, b = node('ip_e_a'), node('ip_e_b')
    pub = intraprocess.hot_publisher(a, Int64, 'ip_e', QOS)
    after = []

    def boom(msg):
        raise ValueError('bad frame')
    intraprocess.hot_subscription(b, Int64, 'ip_e', boom, QOS)
    intraprocess.hot_subscription(b, Int64, 'ip_e', lambda m: after.append(m.data), QOS)
    spin(0.3)
    a.create_timer(0.05, lambda: after or pub.publish(Int64(data=7)))
    spin(0.5)
    assert after == [7], 'the next subscriber still ran'
    with pytest.raises(RuntimeError, match='a callback failed: ValueError'):
        intraprocess.raise_failure()
    intraprocess.raise_failure()   # raised once


def test_without_a_bus_they_are_plain_dds_publishers_and_subscriptions():
    intraprocess.uninstall()
    rclpy.init()
    try:
        executor, _ = make_executor()
        a, b = rclpy.create_node('ip_p_a'), rclpy.create_node('ip_p_b')
        for n in (a, b):
            executor.add_node(n)
        pub = intraprocess.hot_publisher(a, Int64, 'ip_p', QOS)
        got = []
        intraprocess.hot_subscription(b, Int64, 'ip_p', lambda m: got.append(m.data), QOS)
        end = time.monotonic() + 10
        while pub.get_subscription_count() < 1 and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.02)
        pub.publish(Int64(data=3))
        end = time.monotonic() + 5
        while not got and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.02)
        assert got == [3]
        for n in (a, b):
            executor.remove_node(n)
            n.destroy_node()
    finally:
        rclpy.shutdown()
