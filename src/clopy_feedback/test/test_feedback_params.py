"""The task and tone parameter schemas: the task's `v.*` are typed by the task file's
defaults and limited by its `variable_limits`; with real rclpy, the task node's
descriptors carry them and `ros2 param set /task v.threshold -1` is refused."""
import math

import pytest

from clopy_common.schema import SchemaError
from clopy_feedback.task_params import TASK, task_schema
from clopy_feedback.tone_params import TONE


@pytest.mark.parametrize('schema', [TASK, TONE])
def test_defaults_pass_their_own_schema(schema):
    assert schema.check(schema.defaults(), 'x') == schema.defaults()


@pytest.mark.parametrize('task', ['clnf', 'clmf'])
def test_task_variables_take_the_task_files_defaults(task):
    schema = task_schema(task)
    assert schema['v.threshold'].type == 'float' and schema['v.total_trials'].type == 'int'
    assert schema['v.threshold'].dynamic and not schema['frame_rate_hz'].dynamic
    assert schema.check({'v.total_trials': 3.0, 'v.threshold': 1}, 'x') == {'v.total_trials': 3, 'v.threshold': 1.0}


@pytest.mark.parametrize('key, value, line', [
    ('v.treshold', 1, 'f.yaml: task.v.treshold = 1: unknown parameter; task has: '),
    ('v.threshold', 'high', "f.yaml: task.v.threshold = 'high': allowed: a finite number > 0"),
    ('v.threshold', math.nan, 'f.yaml: task.v.threshold = nan: allowed: a finite number > 0'),
    ('v.threshold', -1.0, 'f.yaml: task.v.threshold = -1.0: allowed: a finite number > 0'),
    ('v.threshold', 0.0, 'f.yaml: task.v.threshold = 0.0: allowed: a finite number > 0'),
    ('v.total_trials', 0, 'f.yaml: task.v.total_trials = 0: allowed: a whole number >= 1'),
    ('v.fail_rest_s', -1.0, 'f.yaml: task.v.fail_rest_s = -1.0: allowed: a finite number >= 0 s'),
    ('v.random_reward_p', 1.5, 'f.yaml: task.v.random_reward_p = 1.5: allowed: a finite number >= 0 and <= 1'),
    ('v.session_type', 'hard', "f.yaml: task.v.session_type = 'hard': allowed: one of 'graded', 'fixed_tone'"),
    ('v.adaptive_threshold', 1, 'f.yaml: task.v.adaptive_threshold = 1: allowed: true or false'),
])
def test_bad_task_values_are_refused_with_one_line(key, value, line):
    with pytest.raises(SchemaError) as err:
        task_schema('clnf').check({key: value}, 'f.yaml')
    assert str(err.value).startswith(line) and '\n' not in str(err.value)


def test_clmf_limits_its_own_variables():
    with pytest.raises(SchemaError, match=r'task\.v\.stillness_window_s = -5\.0: allowed: a finite number >= 0 s'):
        task_schema('clmf').check({'v.stillness_window_s': -5.0}, 'f.yaml')


def test_a_task_file_that_cannot_be_found_names_task_file():
    with pytest.raises(SchemaError, match=r"task\.task_file = 'no_such_task'"):
        task_schema('no_such_task')


@pytest.mark.parametrize('key, value, line', [
    ('amplitude', 0.0, 'f.yaml: tone.amplitude = 0.0: allowed: a finite number > 0 and <= 1'),
    ('backend', 'alsa', "f.yaml: tone.backend = 'alsa': allowed: one of 'sounddevice', 'wav'"),
    ('sample_rate_hz', 44100.5, 'f.yaml: tone.sample_rate_hz = 44100.5: allowed: a whole number >= 8000 Hz'),
])
def test_bad_tone_values_are_refused_with_one_line(key, value, line):
    with pytest.raises(SchemaError) as err:
        TONE.check({key: value}, 'f.yaml')
    assert str(err.value).startswith(line)


def test_task_node_describes_its_variables_and_refuses_a_set_outside_the_limits():
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter

    from clopy_feedback.task_node import TaskNode
    rclpy.init(args=['--ros-args', '-p', 'v.threshold:=0.05'])
    try:
        node = TaskNode()
        try:
            threshold, rest, rate = node.describe_parameters(['v.threshold', 'v.fail_rest_s', 'frame_rate_hz'])
            assert threshold.description == 'task variable threshold' and not threshold.read_only
            assert threshold.floating_point_range[0].from_value == 0.0
            assert rest.description == 'task variable fail_rest_s [s]'
            assert rate.read_only and rate.description.endswith('[Hz]')
            assert node.get_parameter('v.threshold').value == 0.05
            refused = node.set_parameters([Parameter('v.threshold', value=-1.0)])[0]
            # refused by the descriptor's range (rclpy's reason) or by the schema's check
            assert not refused.successful and 'v.threshold' in refused.reason and '-1.0' in refused.reason
            nan = node.set_parameters([Parameter('v.threshold', value=math.nan)])[0]
            assert not nan.successful and 'nan' in nan.reason
            # what a descriptor cannot say (choices) the schema's check refuses, with its reason
            kind = node.set_parameters([Parameter('v.session_type', value='hard')])[0]
            assert not kind.successful
            assert kind.reason.startswith("task.v.session_type = 'hard': allowed: one of 'graded'")
            assert node.get_parameter('v.threshold').value == 0.05
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown()
