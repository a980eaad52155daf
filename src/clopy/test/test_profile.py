"""The mouse profile (clopy.profile): what one session of a mouse leaves for its next,
applied by the session preparation after the parameter file and before --set."""
from __future__ import annotations

import os

import pytest
import yaml

from clopy.config import ConfigError
from clopy.profile import load_profile, profile_path, update_profile
from clopy.runner import RunOptions, prepare


def _ran_with(session_dir):
    return yaml.safe_load((session_dir / 'parameters.yaml').read_text())


def test_a_profile_carries_alignment_and_threshold_into_the_next_session(tmp_path):
    update_profile(tmp_path, 'M1', parameters={'roi_dff.bregma_row_px': 140.0, 'roi_dff.bregma_col_px': 121.5})
    update_profile(tmp_path, 'M1', paradigm='clnf_1roi', paradigm_parameters={'task.v.threshold': 0.081})
    profile = load_profile(tmp_path, 'M1')
    assert profile['mouse'] == 'M1' and profile['parameters']['roi_dff.bregma_row_px'] == 140.0
    assert profile_path(tmp_path, 'M1') == tmp_path / 'subjects' / 'M1' / 'profile.yaml'
    umask = os.umask(0)
    os.umask(umask)
    assert profile_path(tmp_path, 'M1').stat().st_mode & 0o777 == 0o666 & ~umask   # the lab's other users read it
    assert [p.name for p in profile_path(tmp_path, 'M1').parent.iterdir()] in (
        ['profile.yaml', '.profile.lock'], ['.profile.lock', 'profile.yaml'])   # no temporary file left

    session_dir, _, _ = prepare(RunOptions('clnf_1roi', sim=True, mouse='M1', trials=2, out_dir=tmp_path))
    ran = _ran_with(session_dir)
    assert ran['roi_dff']['ros__parameters']['bregma_row_px'] == 140.0
    assert ran['roi_dff']['ros__parameters']['bregma_col_px'] == 121.5
    assert ran['task']['ros__parameters']['v.threshold'] == 0.081

    # an explicit --set wins; another mouse and another paradigm are untouched
    session_dir, _, _ = prepare(RunOptions('clnf_1roi', sim=True, mouse='M1', trials=2, out_dir=tmp_path,
                                           sets=['task.v.threshold=0.05']))
    assert _ran_with(session_dir)['task']['ros__parameters']['v.threshold'] == 0.05
    session_dir, _, _ = prepare(RunOptions('clnf_1roi', sim=True, mouse='M2', trials=2, out_dir=tmp_path))
    assert _ran_with(session_dir)['roi_dff']['ros__parameters']['bregma_row_px'] == 135.0
    session_dir, _, _ = prepare(RunOptions('clnf_2roi', sim=True, mouse='M1', trials=2, out_dir=tmp_path))
    ran = _ran_with(session_dir)
    assert ran['roi_dff']['ros__parameters']['bregma_row_px'] == 140.0
    assert ran['task']['ros__parameters']['v.threshold'] != 0.081


def test_a_bad_profile_is_refused_naming_the_file_and_the_value(tmp_path):
    path = profile_path(tmp_path, 'M1')
    path.parent.mkdir(parents=True)
    path.write_text('parameters: [1, 2]\n')
    with pytest.raises(ConfigError, match=f'{path}: parameters: expected a mapping'):
        prepare(RunOptions('clnf_1roi', sim=True, mouse='M1', trials=2, out_dir=tmp_path))
    path.write_text('parameters: {roi_dff.bregma_row_px: -5.0}\n')
    with pytest.raises(ConfigError, match='bregma_row_px'):
        prepare(RunOptions('clnf_1roi', sim=True, mouse='M1', trials=2, out_dir=tmp_path))
    with pytest.raises(ConfigError, match="key 'threshold': expected node.param"):
        update_profile(tmp_path, 'M3', parameters={'threshold': 0.1})
    with pytest.raises(ConfigError, match=r"--mouse: mouse '\.\./x'"):
        update_profile(tmp_path, '../x', parameters={'task.v.threshold': 0.1})
