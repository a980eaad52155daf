"""The hot-path process of `clopy run --composed` (clopy.paradigms.compose,
clopy.hotpath_node): which nodes it holds, where it starts, how it is named."""
from __future__ import annotations

import pytest

from clopy.hotpath_node import component, main, node_names
from clopy.paradigms import HOT_PATH, PARADIGMS, compose


@pytest.mark.parametrize('paradigm, before, hot', [
    ('clnf_1roi', ['recorder', 'lick'], ['reward', 'tone', 'task', 'roi_dff', 'camera']),
    ('clnf_2roi', ['recorder', 'lick'], ['reward', 'tone', 'task', 'roi_dff', 'camera']),
    ('clmf', ['recorder'], ['reward', 'tone', 'task', 'speed', 'pose', 'camera']),
])
def test_the_hot_path_nodes_become_one_process_started_last(paradigm, before, hot):
    entries, names = compose(PARADIGMS[paradigm].entries())
    assert names == hot   # in start order: the camera last, the reward node first
    assert [e[2] for e in entries] == before + ['hotpath'] and entries[-1] == HOT_PATH


def test_a_rig_computer_composes_only_what_runs_there():
    entries = [e for e in PARADIGMS['clmf'].entries() if e[2] in ('camera', 'pose')]
    assert compose(entries) == ([HOT_PATH], ['pose', 'camera'])
    recorder_only = [e for e in PARADIGMS['clmf'].entries() if e[2] == 'recorder']
    assert compose(recorder_only) == (recorder_only, [])


def test_each_node_name_resolves_to_its_node_class():
    assert component('camera').__name__ == 'CameraNode'
    assert component('roi_dff').__module__ == 'clopy_signal.roi_dff_node'
    with pytest.raises(ValueError) as err:
        component('recorder')
    assert str(err.value).startswith("--nodes: 'recorder' cannot run in the hot-path process; allowed: reward, ")


def test_the_node_list_comes_before_the_ros_arguments(capsys):
    assert node_names(['--nodes', 'reward,task', '--ros-args', '--params-file', 'p.yaml']) == ['reward', 'task']
    for bad in (['--ros-args', '--nodes', 'task'], ['--nodes'], ['--nodes', ' , ']):
        with pytest.raises(ValueError):
            node_names(bad)
    assert main(['--nodes', 'camera,lick', '--ros-args']) == 2
    assert "[hotpath] configuration error: --nodes: 'lick' cannot run" in capsys.readouterr().err
