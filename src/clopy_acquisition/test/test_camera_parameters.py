"""Camera node parameters with real rclpy: another source kind's parameters in the
file (a rig's `synthetic.*`) are not this run's, a misspelt one of its own stops it."""
import h5py
import numpy as np
import pytest
import rclpy

from clopy_acquisition.camera_node import CameraNode
from clopy_common.node_main import StartupError


@pytest.fixture
def hdf5_path(tmp_path):
    path = tmp_path / 'image_stream.hdf5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('raw_images', data=np.zeros((3, 16, 16, 3), np.uint8))
    return path


def camera(*params):
    args = ['--ros-args'] + [a for p in params for a in ('-p', p)]
    rclpy.init(args=args)
    try:
        node = CameraNode()
    except BaseException:
        rclpy.shutdown()
        raise
    return node


def close(node):
    node.close()
    node.destroy_node()
    rclpy.shutdown()


def test_parameters_of_a_kind_not_chosen_are_left_alone(hdf5_path):
    node = camera('source:=hdf5', f'path:={hdf5_path}', 'synthetic.activity:=ramp', 'max_frames:=1')
    try:
        assert node.source.describe() == f'HDF5 {str(hdf5_path)!r}'
        assert not node.has_parameter('synthetic.activity')
    finally:
        close(node)


def test_a_misspelt_parameter_of_the_chosen_kind_stops_the_camera(hdf5_path):
    with pytest.raises(StartupError, match=r"unknown parameter\(s\) \['hdf5.dataset'\]"):
        camera('source:=hdf5', f'path:={hdf5_path}', 'hdf5.dataset:=/x')


def test_declared_parameters_carry_description_unit_and_range(hdf5_path):
    node = camera('source:=hdf5', f'path:={hdf5_path}', 'max_frames:=1')
    try:
        width, rate, pace = node.describe_parameters(['width_px', 'frame_rate_hz', 'pace'])
        assert width.description == 'frame width [px]' and width.read_only
        assert (width.integer_range[0].from_value, width.integer_range[0].to_value) == (1, 8192)
        assert rate.floating_point_range[0].to_value == 1000.0
        assert pace.additional_constraints == "allowed: one of 'realtime', 'lockstep'"
    finally:
        close(node)


def test_a_value_out_of_range_stops_the_camera(hdf5_path):
    with pytest.raises(StartupError, match=r'camera\.width_px = 1000000: allowed: a whole number >= 1 px and <= 8192 px'):
        camera('source:=hdf5', f'path:={hdf5_path}', 'width_px:=1000000')


def test_the_chosen_kind_brings_its_own_parameters():
    node = camera('source:=synthetic', 'synthetic.activity:=ramp', 'max_frames:=1')
    try:
        d = node.describe_parameters(['synthetic.activity'])[0]
        assert node.get_parameter('synthetic.activity').value == 'ramp'
        assert d.additional_constraints == "allowed: one of 'spontaneous', 'flat', 'ramp'"
    finally:
        close(node)


def test_a_frame_the_source_cannot_deliver_stops_the_camera_before_any_frame_is_made():
    with pytest.raises(StartupError, match=r'camera\.width_px = 8192: a 8192x8192 frame is 201 MB'):
        camera('source:=synthetic', 'width_px:=8192', 'height_px:=8192')


def test_an_exhausted_file_ends_the_session_with_the_reason(hdf5_path):
    import time

    from clopy_common.qos import SESSION_END, SESSION_END_QOS
    from clopy_interfaces.msg import SessionEnd
    from rclpy.executors import SingleThreadedExecutor
    node = camera('source:=hdf5', f'path:={hdf5_path}', 'frame_rate_hz:=50.0')
    listener = rclpy.create_node('listener')
    got = []
    listener.create_subscription(SessionEnd, SESSION_END, got.append, SESSION_END_QOS)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(listener)
    try:
        deadline = time.monotonic() + 20.0
        while not (got and node.finished) and time.monotonic() < deadline:   # published, then finished
            executor.spin_once(timeout_sec=0.05)
        assert [(m.reason, m.node, m.error) for m in got] == [('end of the recording', 'camera', False)]
        assert node.finished and node.frames_published == 3
        assert getattr(node, 'exit_status', 0) == 0
    finally:
        listener.destroy_node()
        close(node)
