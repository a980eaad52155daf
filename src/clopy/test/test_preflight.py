"""The pre-flight check (clopy.config.validate -> clopy.preflight): every value of every
node in a parameter file, `--set` and the `/**` section against the node's schema, one
line naming the file or --set, node.key, the value and what is allowed."""
import math
from pathlib import Path

import pytest

from clopy import config as cfg
from clopy.param_docs import render

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize('paradigm', cfg.PARADIGMS)
@pytest.mark.parametrize('sim', [False, True])
def test_every_shipped_parameter_file_passes(paradigm, sim):
    path, params = cfg.load_params(paradigm, REPO / 'config' / f'{paradigm}.yaml')
    if sim:
        cfg.apply_simulation(params, paradigm)
    cfg.validate(params, path)


def prepared(paradigm='clnf_1roi', *sets, edit=None):
    path, params = cfg.load_params(paradigm, REPO / 'config' / f'{paradigm}.yaml')
    cfg.apply_simulation(params, paradigm)
    if edit:
        edit(params)
    for s in sets:
        cfg.apply_set(params, s)
    return path, params


def refusal(paradigm='clnf_1roi', *sets, edit=None) -> str:
    path, params = prepared(paradigm, *sets, edit=edit)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.validate(params, path)
    assert '\n' not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize('assignment, line', [
    ('task.v.treshold=1', '--set: task.v.treshold = 1: unknown parameter; task has: '),
    ('camera.width_px=abc', "--set: camera.width_px = 'abc': allowed: a whole number >= 1 px and <= 8192 px"),
    ('task.v.threshold=nan', '--set: task.v.threshold = nan: allowed: a finite number > 0'),
    ('task.v.threshold=.inf', '--set: task.v.threshold = inf: allowed: a finite number > 0'),
    ('task.v.threshold=-1', '--set: task.v.threshold = -1.0: allowed: a finite number > 0'),
    ('camera.width_px=1000000', '--set: camera.width_px = 1000000: allowed: a whole number >= 1 px and <= 8192 px'),
    ('reward.valve_pin=40', '--set: reward.valve_pin = 40: allowed with reward.backend = gpio: 0-27'),
    ('tone.amplitude=2', '--set: tone.amplitude = 2.0: allowed: a finite number > 0 and <= 1'),
    ('roi_dff.frame_rate_hz=0', '--set: roi_dff.frame_rate_hz = 0.0: allowed: a finite number > 0 Hz'),
    ('recorder.record_images=maybe', "--set: recorder.record_images = 'maybe': allowed: true or false"),
    ('camera.synthetic.activity=wild', "--set: camera.synthetic.activity = 'wild': allowed: one of 'spontaneous'"),
])
def test_a_bad_set_is_refused_naming_the_set(assignment, line):
    assert refusal('clnf_1roi', assignment).startswith(line)


def test_a_frame_too_large_for_memory_is_refused_before_start():
    # each size alone is allowed; together 192 MB a frame, more than a source delivers
    line = refusal('clnf_1roi', 'camera.width_px=8000', 'camera.height_px=8000')
    assert line.startswith('--set: camera.width_px = 8000: a 8000x8000 frame is ')
    assert 'allowed: at most 64 MB a frame' in line


def test_a_bad_value_in_the_file_names_the_file():
    def edit(params):
        params['task']['v.total_trials'] = 0
    path, _ = prepared()
    assert refusal(edit=edit).startswith(f'{path}: task.v.total_trials = 0: allowed: a whole number >= 1')


def test_the_shared_section_is_checked_against_the_nodes_that_share_it():
    def bad_value(params):
        params['/**']['synthetic_behaviour.fps'] = math.nan

    def misspelt(params):
        params['/**']['synthetic_behaviour.sed'] = 3
    path, _ = prepared('clmf')
    assert refusal('clmf', edit=bad_value).startswith(
        f'{path}: /**.synthetic_behaviour.fps = nan: allowed: a finite number > 0 Hz')
    line = refusal('clmf', edit=misspelt)
    assert line.startswith(f'{path}: /**.synthetic_behaviour.sed = 3: unknown parameter')
    assert line.endswith('did you mean synthetic_behaviour.seed?')


def test_values_are_converted_to_the_parameter_type():
    path, params = prepared('clnf_1roi', 'camera.frame_rate_hz=30', 'task.v.total_trials=4.0')
    params['roi_dff']['frame_rate_hz'] = 30
    cfg.validate(params, path)
    assert params['camera']['frame_rate_hz'] == 30.0 and isinstance(params['roi_dff']['frame_rate_hz'], float)
    assert params['task']['v.total_trials'] == 4 and isinstance(params['task']['v.total_trials'], int)


def test_a_task_file_that_does_not_exist_is_named():
    assert "--set: task.task_file = 'no_such_task'" in refusal('clnf_1roi', 'task.task_file=no_such_task')


def test_a_node_block_of_no_known_node_is_refused():
    def edit(params):
        params['camra'] = {'width_px': 256}
    path, _ = prepared()
    assert refusal(edit=edit).startswith(f'{path}: camra: no such node; nodes with parameters: camera, ')


def test_cross_checks_still_apply():
    assert 'XX_R' in refusal('clnf_2roi', 'roi_dff.rule=BC_L-XX_R')
    assert 'pose.backend = synthetic needs camera.source = synthetic_behaviour' in refusal(
        'clmf', 'camera.source=synthetic')
    assert refusal('clnf_1roi', 'reward.valve_pulse_s=2.0').endswith(
        'reward.valve_pulse_s = 2.0: allowed: at most reward.max_valve_open_s = 1.0')


def test_the_parameter_reference_is_up_to_date():
    doc = REPO / 'docs' / 'parameters.md'
    assert doc.read_text() == render(), 'docs/parameters.md is out of date: run python scripts/gen_param_docs.py'
    for heading in ('## camera', '### camera, source = synthetic', '## task', '### task, task_file = clmf'):
        assert f'\n{heading}' in doc.read_text()
