"""Parameter schemas: the pre-flight check and the ROS declarations refuse the same values."""
import math

import pytest

from clopy_common.schema import NodeSchema, Param, SchemaError

CAMERA = NodeSchema('camera', [
    Param('frame_rate_hz', 15.0, 'frame rate', unit='Hz', gt=0.0, max=500.0),
    Param('width_px', 256, 'frame width', unit='px', min=1, max=8192),
    Param('source', 'synthetic', 'frame source', choices=('synthetic', 'video')),
    Param('crop_px', [0, 0, 0, 0], 'crop', unit='px', min=0),
    Param('rois', [], 'regions', type='str[]'),
    Param('simulate', False, 'mock pins'),
    Param('threshold', 0.1, 'threshold', min=0.0, dynamic=True),
])


def test_good_values_pass_and_are_converted():
    out = CAMERA.check({'frame_rate_hz': 30, 'width_px': 640.0, 'source': 'video', 'crop_px': [1, 2, 3, 4],
                        'rois': ['BC_L'], 'simulate': True}, 'config/x.yaml')
    assert out == {'frame_rate_hz': 30.0, 'width_px': 640, 'source': 'video', 'crop_px': [1, 2, 3, 4],
                   'rois': ['BC_L'], 'simulate': True}
    assert isinstance(out['frame_rate_hz'], float) and isinstance(out['width_px'], int)


@pytest.mark.parametrize('key,value,allowed', [
    ('frame_rate_hz', 0.0, 'a finite number > 0 Hz and <= 500 Hz'),
    ('frame_rate_hz', math.nan, 'a finite number'),
    ('frame_rate_hz', math.inf, 'a finite number'),
    ('frame_rate_hz', 'abc', 'a finite number'),
    ('width_px', 1_000_000, '<= 8192 px'),
    ('width_px', 2.5, 'a whole number'),
    ('width_px', True, 'a whole number'),
    ('source', 'picamera', "one of 'synthetic', 'video'"),
    ('crop_px', [0, -1, 0, 0], 'a list of whole numbers >= 0 px'),
    ('rois', 'BC_L', 'a list of strings'),
    ('simulate', 'yes', 'true or false'),
    ('threshold', -1.0, '>= 0'),
])
def test_bad_values_are_refused_naming_file_key_value_and_what_is_allowed(key, value, allowed):
    with pytest.raises(SchemaError) as err:
        CAMERA.check({key: value}, 'config/x.yaml')
    text = str(err.value)
    assert text.startswith(f'config/x.yaml: camera.{key} = {value!r}: allowed: ')
    assert allowed in text


def test_unknown_key_is_refused_with_the_known_ones():
    with pytest.raises(SchemaError, match=r"camera\.widht_px = 640: unknown parameter; camera has: .*width_px"):
        CAMERA.check({'widht_px': 640}, '--set')


def test_declared_parameters_enforce_the_schema_in_ros():
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter
    rclpy.init()
    try:
        node = rclpy.create_node('schema_test', parameter_overrides=[Parameter('width_px', value=640)])
        values = CAMERA.declare(node)
        assert values['width_px'] == 640 and values['frame_rate_hz'] == 15.0
        # a read-only parameter cannot change while the node runs
        r = node.set_parameters([Parameter('width_px', value=320)])[0]
        assert not r.successful
        # a dynamic one can, within its range only
        assert node.set_parameters([Parameter('threshold', value=0.2)])[0].successful
        bad = node.set_parameters([Parameter('threshold', value=-0.5)])[0]
        assert not bad.successful and 'threshold' in bad.reason
        assert node.get_parameter('threshold').value == 0.2
        d = node.describe_parameters(['frame_rate_hz'])[0]
        assert '[Hz]' in d.description and d.read_only
        assert d.floating_point_range[0].to_value == 500.0
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_a_node_given_a_bad_value_does_not_start():
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter
    from clopy_common.node_main import StartupError
    rclpy.init()
    try:
        node = rclpy.create_node('schema_test2', parameter_overrides=[Parameter('crop_px', value=[0, -1, 0, 0])])
        with pytest.raises(StartupError, match=r'camera\.crop_px = \[0, -1, 0, 0\]: allowed'):
            CAMERA.declare(node)
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_whole_numbers_stay_within_32_bits_for_rqt_reconfigure():
    from clopy_common.schema import INT32_MAX, descriptor
    seed = Param('seed', 1, 'seed', min=0)
    assert seed.coerce(INT32_MAX) == INT32_MAX
    with pytest.raises(SchemaError, match=r'2147483648: allowed: a whole number >= 0, within 32 bits'):
        seed.coerce(INT32_MAX + 1)
    r = descriptor(seed).integer_range[0]
    assert (r.from_value, r.to_value) == (0, INT32_MAX)
    r = descriptor(Param('offset', 0, 'offset', max=5)).integer_range[0]
    assert (r.from_value, r.to_value) == (-2 ** 31, 5)
