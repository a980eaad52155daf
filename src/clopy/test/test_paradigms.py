"""The paradigm manifest is the one definition: every paradigm has its parameter file
and task file, its simulation settings name its own nodes, and docs/paradigms.md is
generated from it."""
from pathlib import Path

import pytest

from clopy import config as cfg
from clopy.paradigms import NODES, PARADIGMS, markdown, paradigm
from clopy_data.folder import read_parameters
from clopy_task.files import resolve_task_file

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize('name', list(PARADIGMS))
def test_each_paradigm_has_its_parameter_file_task_file_and_nodes(name):
    p = PARADIGMS[name]
    assert p.node_names[-1] == 'camera' and p.node_names[0] == 'recorder'
    params = read_parameters(REPO / 'config' / f'{name}.yaml')
    blocks = {k for k in params if k != '/**'}
    assert blocks == set(p.node_names), f'config/{name}.yaml has blocks {sorted(blocks)}'
    assert resolve_task_file(p.task_file).is_file()
    assert set(p.sim) <= set(p.node_names)
    assert set(p.required) >= {'image_raw', 'frame_info', 'control_signal'}


def test_simulation_settings_come_from_the_manifest():
    params = {'camera': {'source': 'picamera'}, 'pose': {'backend': 'dlclive'}}
    cfg.apply_simulation(params, 'clmf')
    assert params['camera']['source'] == 'synthetic_behaviour' and params['pose']['backend'] == 'synthetic'
    assert params['reward']['simulate'] is True and params['tone']['backend'] == 'wav'
    other = {}
    cfg.apply_simulation(other, 'clnf_1roi')
    assert other['camera']['source'] == 'synthetic' and 'pose' not in other
    # the manifest itself is never changed by a session's settings
    other['camera']['source'] = 'video'
    assert PARADIGMS['clnf_1roi'].sim['camera']['source'] == 'synthetic'


def test_recorder_without_images_needs_one_image_subscriber_less():
    p = PARADIGMS['clnf_1roi']
    assert p.required_subscribers({'recorder': {'record_images': False}})['image_raw'] == \
        p.required['image_raw'] - 1


def test_unknown_paradigm_names_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown paradigm 'clnf3'; allowed: clnf_1roi, clnf_2roi, clmf"):
        paradigm('clnf3')


def test_every_node_is_in_a_paradigm_and_seen_by_a_topic_of_its_own():
    used = {n for p in PARADIGMS.values() for n in p.node_names}
    assert used == set(NODES)
    for p in PARADIGMS.values():
        seen = [NODES[n].presence for n in p.node_names]
        assert len(set(seen)) == len(seen), f'{p.name}: two nodes seen by the same topic'


def test_docs_paradigms_md_is_generated_from_the_manifest():
    doc = REPO / 'docs' / 'paradigms.md'
    assert doc.read_text() == markdown(), 'docs/paradigms.md is stale: python -m clopy.paradigms > docs/paradigms.md'
