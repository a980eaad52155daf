"""A task file's `variable_limits`: read by the loader (what the task node's schema and
the pre-flight check enforce); the packaged tasks limit every shared variable."""
import textwrap

import pytest

from clopy_task import files, library
from clopy_task.engine import TaskEngine, TaskFileError

BODY = '''
from clopy_task.api import *
states = ['idle']
initial_state = 'idle'
v.threshold = 0.1
v.trials = 3
variable_limits = {LIMITS}

def idle(event):
    pass
'''


def engine(tmp_path, limits):
    path = tmp_path / 'task.py'
    path.write_text(textwrap.dedent(BODY.replace('{LIMITS}', limits)))
    return TaskEngine(path, frame_rate_hz=15.0)


def test_limits_are_read_from_the_task_file(tmp_path):
    e = engine(tmp_path, "{'threshold': {'min': 0.0}, 'trials': {'min': 1, 'max': 10}}")
    assert e.task.variable_limits == {'threshold': {'min': 0.0}, 'trials': {'min': 1, 'max': 10}}


def test_a_file_without_limits_has_none(tmp_path):
    assert engine(tmp_path, '{}').task.variable_limits == {}


@pytest.mark.parametrize('limits', ["{'threshold': {'minimum': 0.0}}", "['threshold']", "{'threshold': 0.0}"])
def test_malformed_limits_are_refused_naming_the_file(tmp_path, limits):
    with pytest.raises(TaskFileError, match=r'task\.py: variable_limits = .*allowed: a dict of task variable name'):
        engine(tmp_path, limits)


@pytest.mark.parametrize('task', ['clnf', 'clmf'])
def test_packaged_tasks_limit_their_times_and_probabilities(task):
    e = TaskEngine(files.resolve_task_file(task), frame_rate_hz=15.0)
    limits = e.task.variable_limits
    for name in e.variables:
        if name.endswith('_s'):
            assert limits[name]['min'] == 0.0, name
    assert limits['random_reward_p'] == {'min': 0.0, 'max': 1.0}
    assert limits['session_type']['choices'] == library.SESSION_TYPES
    assert set(limits) <= set(e.variables)
