"""What rqt needs from a running session, checked through rclpy against a real one
(`clopy run clnf_1roi --sim`), the way each rqt plugin looks at the graph (docs/rqt.md;
rqt itself is not on PyPI and cannot run here):

- rqt_plot /control_signal/value: the topic's type from the graph, its message class
  by name (rosidl_runtime_py.get_message), the field `value` a BasicType 'double' in the
  class's SLOT_TYPES, and messages received by a default (reliable, volatile, depth 10)
  reader;
- rqt_image_view /image_raw: sensor_msgs/msg/Image, received by a sensor-data
  (best-effort) reader as rqt_image_view subscribes, in an encoding cv_bridge converts
  (mono8, bgr8), whole (step and data length agree);
- rqt_image_view /image_preview: the same image a few times a second;
- rqt_reconfigure /task: list_parameters, describe_parameters; every integer and
  floating-point parameter has exactly one range (its editor reads range[0]) and integer
  bounds within 32 bits (a Qt slider), a description (the tooltip), and the task
  variables are writable (not read_only)."""
from __future__ import annotations

import math
import os
import signal
import time

import pytest
import rclpy
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import DescribeParameters, ListParameters
from rclpy.qos import qos_profile_sensor_data
from rosidl_parser.definition import BasicType
from rosidl_runtime_py.utilities import get_message

from clopy.rosenv import DomainLease, apply_loopback, loopback_env

from test_clnf_graph import FAST, clopy_run

#: encodings rqt_image_view shows through cv_bridge (colour and mono conversions, plus the
#: depth encodings it scales); the camera publishes mono8 or bgr8 (docs/topics.md)
IMAGE_VIEW_ENCODINGS = {'mono8', 'mono16', 'bgr8', 'rgb8', 'bgra8', 'rgba8', '16UC1', '32FC1'}
INT32 = (-2 ** 31, 2 ** 31 - 1)


def _call(node, srv_type, name: str, request, timeout_s: float = 30.0):
    client = node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout_s), f'no service {name}'
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout_s)
    assert future.done(), f'{name}: no answer'
    return future.result()


def _first_message(node, msg_type, topic: str, qos, timeout_s: float = 60.0):
    got = []
    sub = node.create_subscription(msg_type, topic, got.append, qos)
    end = time.monotonic() + timeout_s
    while not got and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_subscription(sub)
    assert got, f'nothing received on {topic}'
    return got[0]


def _preview_rate(node, msg_type, window_s: float = 4.0) -> dict:
    """Frames of /image_preview received in `window_s` (after the first) by a sensor-data
    reader, with the first one and the frame indices."""
    first = _first_message(node, msg_type, '/image_preview', qos_profile_sensor_data)
    got = []
    sub = node.create_subscription(msg_type, '/image_preview', got.append, qos_profile_sensor_data)
    end = time.monotonic() + window_s
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_subscription(sub)
    return {'first': first, 'count': len(got), 'window_s': window_s,
            'frame_ids': [m.header.frame_id for m in got]}


@pytest.fixture(scope='module')
def seen(tmp_path_factory):
    """What the rqt plugins would see, collected while a short session runs."""
    out = tmp_path_factory.mktemp('rqt')
    saved = dict(os.environ)
    with DomainLease() as lease:
        apply_loopback(lease.domain_id)
        proc = clopy_run(out, 'clnf_1roi', '--sim', '--trials', '2', '--domain-id', str(lease.domain_id),
                         env=loopback_env(lease.domain_id), wait=False, sets=FAST)
        rclpy.init()
        node = rclpy.create_node('rqt_facts')
        facts = {}
        try:
            names = _call(node, ListParameters, '/task/list_parameters', ListParameters.Request(), 90).result.names
            described = _call(node, DescribeParameters, '/task/describe_parameters',
                              DescribeParameters.Request(names=list(names))).descriptors
            facts['descriptors'] = {d.name: d for d in described}
            facts['image'] = _first_message(node, get_message('sensor_msgs/msg/Image'), '/image_raw',
                                            qos_profile_sensor_data)
            facts['preview'] = _preview_rate(node, get_message('sensor_msgs/msg/Image'))
            facts['signal'] = _first_message(node, get_message('clopy_interfaces/msg/ControlSignal'),
                                             '/control_signal', 10)
            facts['types'] = dict(node.get_topic_names_and_types())
        finally:
            node.destroy_node()
            rclpy.shutdown()
            os.killpg(proc.pid, signal.SIGINT)
            proc.communicate(timeout=90)
            os.environ.clear()
            os.environ.update(saved)
    return facts


def test_rqt_plot_finds_control_signal_value_a_float64(seen):
    msgtype = seen['types']['/control_signal']
    assert msgtype == ['clopy_interfaces/msg/ControlSignal']
    cls = get_message(msgtype[0])
    slot = cls.SLOT_TYPES[cls.__slots__.index('_value')]
    assert isinstance(slot, BasicType) and slot.typename == 'double'
    assert isinstance(seen['signal'].value, float) and math.isfinite(seen['signal'].value)


def test_rqt_image_view_gets_image_raw_in_an_encoding_it_shows(seen):
    assert seen['types']['/image_raw'] == ['sensor_msgs/msg/Image']
    image = seen['image']
    assert image.encoding in IMAGE_VIEW_ENCODINGS and image.encoding in ('mono8', 'bgr8')
    channels = {'mono8': 1, 'bgr8': 3}[image.encoding]
    assert image.step == image.width * channels and len(image.data) == image.step * image.height > 0


def test_image_preview_is_the_camera_frame_a_few_times_a_second(seen):
    """rqt_image_view /image_preview (docs/rqt.md): the same image as image_raw, at most
    camera.preview_rate_hz (2) a second while watched, whatever the camera's rate."""
    assert seen['types']['/image_preview'] == ['sensor_msgs/msg/Image']
    image, preview = seen['image'], seen['preview']['first']
    assert (preview.encoding, preview.width, preview.height) == (image.encoding, image.width, image.height)
    assert len(preview.data) == preview.step * preview.height > 0
    count, window_s = seen['preview']['count'], seen['preview']['window_s']
    assert 1 <= count <= 2.0 * window_s + 1, seen['preview']['frame_ids']
    assert all(f.startswith('camera#') for f in seen['preview']['frame_ids'])


def test_rqt_reconfigure_has_a_range_and_description_for_every_task_number(seen):
    descriptors = seen['descriptors']
    variables = [n for n in descriptors if n.startswith('v.')]
    assert 'v.threshold' in variables and 'v.total_trials' in variables
    numbers = 0
    for name, d in descriptors.items():
        if d.type == ParameterType.PARAMETER_DOUBLE:
            assert len(d.floating_point_range) == 1 and not d.integer_range, name
            r = d.floating_point_range[0]
            assert r.from_value < r.to_value, name
            numbers += 1
        elif d.type == ParameterType.PARAMETER_INTEGER:
            assert len(d.integer_range) == 1 and not d.floating_point_range, name
            r = d.integer_range[0]
            assert INT32[0] <= r.from_value < r.to_value <= INT32[1], (name, r)
            numbers += 1
        if name.startswith('v.'):
            assert d.description.startswith('task variable') and not d.read_only, name
    assert numbers >= 20
    threshold = descriptors['v.threshold']
    assert threshold.type == ParameterType.PARAMETER_DOUBLE
    assert threshold.floating_point_range[0].from_value == 0.0
