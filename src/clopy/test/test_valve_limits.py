"""The pre-flight check of the valve (clopy.config.validate -> clopy_reward.limits): the
2 s ceiling, its explicit override, and the task's pulse lengths against the reward
node's limits, refused before anything starts with one line naming where the value
came from, the key, the value and what is allowed."""
import pytest
from test_preflight import prepared, refusal

from clopy import config as cfg
from clopy_task import files

PARADIGMS = ('clnf_1roi', 'clnf_2roi', 'clmf')


@pytest.mark.parametrize('paradigm', PARADIGMS)
def test_the_issue_case_a_100_s_valve_is_refused(paradigm):
    # both raised together: the schema's own maximum
    assert refusal(paradigm, 'reward.max_valve_open_s=100', 'task.v.valve_pulse_s=100').startswith(
        '--set: reward.max_valve_open_s = 100.0: allowed: a finite number > 0 s and <= 10 s')
    # only the task's pulse: it would be refused at every reward, so the session does not start
    assert refusal(paradigm, 'task.v.valve_pulse_s=100') == (
        '--set: task.v.valve_pulse_s = 100.0: allowed: at most reward.max_valve_open_s = 1.0 '
        '(the reward node refuses longer valve pulses)')


@pytest.mark.parametrize('paradigm', PARADIGMS)
def test_a_limit_above_the_ceiling_needs_the_override(paradigm):
    line = refusal(paradigm, 'reward.max_valve_open_s=5')
    assert line.startswith('--set: reward.max_valve_open_s = 5.0: allowed: at most 2.0 s (the valve ceiling')
    assert 'reward.valve_ceiling_override_s >= 5.0' in line
    assert refusal(paradigm, 'reward.max_valve_open_s=5', 'reward.valve_ceiling_override_s=4').startswith(
        '--set: reward.valve_ceiling_override_s = 4.0: allowed: at least reward.max_valve_open_s = 5.0')
    path, params = prepared(paradigm, 'reward.max_valve_open_s=5', 'reward.valve_ceiling_override_s=5',
                            'task.v.valve_pulse_s=4.5')
    cfg.validate(params, path)
    assert refusal(paradigm, 'reward.valve_ceiling_override_s=11.0').startswith(
        '--set: reward.valve_ceiling_override_s = 11.0: allowed: a finite number >= 0 s and <= 10 s')


@pytest.mark.parametrize('paradigm', PARADIGMS)
def test_every_task_pulse_is_checked_against_its_output(paradigm):
    assert refusal(paradigm, 'task.v.fail_pulse_s=6').startswith(
        '--set: task.v.fail_pulse_s = 6.0: allowed: at most reward.max_fail_pulse_s = 5.0')
    assert refusal(paradigm, 'reward.max_valve_open_s=0.05', 'reward.valve_pulse_s=0.05').startswith(
        f'{prepared(paradigm)[0]}: task.v.valve_pulse_s = ')
    assert refusal(paradigm, 'reward.max_fail_pulse_s=0.2').startswith(
        f'{prepared(paradigm)[0]}: reward.fail_pulse_s = 0.5: allowed: at most reward.max_fail_pulse_s = 0.2')


def test_a_pulse_from_the_file_names_the_file():
    def edit(params):
        params['task']['v.valve_pulse_s'] = 1.5
    path, _ = prepared('clnf_1roi')
    assert refusal('clnf_1roi', edit=edit).startswith(f'{path}: task.v.valve_pulse_s = 1.5: allowed: at most')


def test_a_pulse_from_the_task_file_default_names_the_task_file():
    def edit(params):
        del params['task']['v.valve_pulse_s']
        params['reward']['max_valve_open_s'] = 0.2
        params['reward']['valve_pulse_s'] = 0.1
    line = refusal('clnf_1roi', edit=edit)
    assert line.startswith(f"{files.resolve_task_file('clnf')} (the task file's default): task.v.valve_pulse_s = 0.3: "
                           'allowed: at most reward.max_valve_open_s = 0.2')


def test_a_task_reading_its_own_valve_pulse_variable_is_checked_too(tmp_path):
    task = tmp_path / 'long_pulse.py'
    task.write_text('from clopy_task.api import *\n'
                    "states = ['s']\ninitial_state = 's'\n"
                    'v.big_valve_pulse_s = 3.0\n\n'
                    'def s(event):\n    if event == "entry":\n        reward(v.big_valve_pulse_s)\n')
    def edit(params):
        params['task'] = {'task_file': str(task)}
    line = refusal('clnf_1roi', edit=edit)
    assert line.startswith(f"{task} (the task file's default): task.v.big_valve_pulse_s = 3.0: allowed: at most "
                           'reward.max_valve_open_s = 1.0')
