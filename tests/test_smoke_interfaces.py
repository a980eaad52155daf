"""Two node processes exchange a clopy_interfaces message through rclpy."""
from __future__ import annotations

import json
import subprocess
import textwrap

from conftest import PYTHON

PUBLISHER = textwrap.dedent('''
    import sys, rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
    from clopy_interfaces.msg import RoiSignal
    rclpy.init()
    node = rclpy.create_node('smoke_publisher')
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    pub = node.create_publisher(RoiSignal, 'smoke/roi_signal', qos)
    msg = RoiSignal()
    msg.header.stamp.sec = 1700000000
    msg.header.stamp.nanosec = 123456789
    msg.header.frame_id = 'camera'
    msg.frame_index = 4242
    msg.roi_names = ['BC_L', 'BC_R']
    msg.dff = [0.05, -0.01]
    msg.rule = 'BC_L-BC_R'
    msg.rule_value = 0.06
    msg.valid = True
    pub.publish(msg)
    # keep the latched sample available until the subscriber has read it
    import time
    end = time.monotonic() + 15.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.2)
''')

SUBSCRIBER = textwrap.dedent('''
    import json, time, rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
    from clopy_interfaces.msg import RoiSignal
    rclpy.init()
    node = rclpy.create_node('smoke_subscriber')
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    got = []
    node.create_subscription(RoiSignal, 'smoke/roi_signal', got.append, qos)
    deadline = time.monotonic() + 20.0
    while not got and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    m = got[0]
    print(json.dumps({'sec': m.header.stamp.sec, 'nanosec': m.header.stamp.nanosec,
                      'frame_id': m.header.frame_id, 'frame_index': m.frame_index,
                      'roi_names': list(m.roi_names), 'dff': list(m.dff),
                      'rule': m.rule, 'rule_value': m.rule_value, 'valid': m.valid}))
''')


def test_roi_signal_crosses_processes_with_stamp_and_frame_index(ros_env, processes):
    publisher = processes.start([PYTHON, '-c', PUBLISHER], env=ros_env)
    result = subprocess.run([PYTHON, '-c', SUBSCRIBER], env=ros_env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got == {'sec': 1700000000, 'nanosec': 123456789, 'frame_id': 'camera',
                   'frame_index': 4242, 'roi_names': ['BC_L', 'BC_R'], 'dff': [0.05, -0.01],
                   'rule': 'BC_L-BC_R', 'rule_value': 0.06, 'valid': True}
    assert publisher.poll() is None or publisher.returncode == 0


def test_processes_of_another_domain_do_not_see_each_other(ros_env, processes):
    """The per-run ROS_DOMAIN_ID isolates runs: a subscriber in another domain gets nothing."""
    processes.start([PYTHON, '-c', PUBLISHER], env=ros_env)
    other = dict(ros_env, ROS_DOMAIN_ID=str((int(ros_env['ROS_DOMAIN_ID']) % 101) + 1))
    code = SUBSCRIBER.replace('time.monotonic() + 20.0', 'time.monotonic() + 4.0')
    result = subprocess.run([PYTHON, '-c', code], env=other, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0 and 'IndexError' in result.stderr
