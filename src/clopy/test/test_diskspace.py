"""The pre-flight free-space estimate (clopy.diskspace) and its refusal in
runner.prepare: before any session folder exists, in one line naming the folder,
the free and the needed MB."""
from __future__ import annotations

import shutil

import pytest

from clopy import config as cfg
from clopy.diskspace import MARGIN, OTHER_BYTES_PER_FRAME, check_free_space, estimate, planned_duration_s
from clopy.runner import RunOptions, prepare


def test_planned_duration_is_the_longest_session_the_task_allows():
    task = {'v.initial_rest_s': 8.0, 'v.total_trials': 4, 'v.max_trial_s': 20.0, 'v.success_rest_s': 5.0,
            'v.fail_rest_s': 7.0}
    assert planned_duration_s(task) == 8.0 + 4 * (20.0 + 7.0)
    assert planned_duration_s(task | {'v.stillness_window_s': 5.0}) == 8.0 + 4 * (20.0 + 7.0 + 5.0)


def test_estimate_of_the_default_clnf_session():
    _, params = cfg.load_params('clnf_1roi')
    e = estimate(params)
    assert e.duration_s == 30.0 + 60 * (30.0 + 15.0)
    assert e.frames == 15.0 * e.duration_s
    assert e.bytes_per_frame == 256 * 256 * 3 + OTHER_BYTES_PER_FRAME
    assert e.needed_mb == pytest.approx(e.frames * e.bytes_per_frame * MARGIN / 1e6 + 200)
    # a re-run records no images; a crop records only the crop
    assert estimate(params | {'recorder': {'record_images': False}}).bytes_per_frame == OTHER_BYTES_PER_FRAME
    cropped = dict(params, camera=dict(params['camera'], crop_px=[0, 0, 100, 50]))
    assert estimate(cropped).bytes_per_frame == 100 * 50 * 3 + OTHER_BYTES_PER_FRAME
    # camera.max_frames ends the session there: no more frames than that are recorded
    capped = dict(params, camera=dict(params['camera'], max_frames=150))
    assert estimate(capped).frames == 150
    assert estimate(dict(params, camera=dict(params['camera'], max_frames=0))).frames == e.frames


def test_a_session_that_does_not_fit_is_refused_before_its_folder_exists(tmp_path):
    free_mb = shutil.disk_usage(tmp_path).free / 1e6
    too_much = int(free_mb) + 1000
    out = tmp_path / 'sessions'
    with pytest.raises(cfg.ConfigError) as err:
        prepare(RunOptions('clnf_1roi', sim=True, out_dir=out, sets=[f'recorder.min_free_mb={too_much}']))
    message = str(err.value)
    assert '\n' not in message and message.startswith(f'--out {out}: ')
    assert ' MB free, the session needs about ' in message
    assert 'recorder.check_free_space=false' in message
    assert not out.exists(), 'no session folder was made'
    # the estimate can be skipped (tests on a small file system)
    session_dir, _, _ = prepare(RunOptions('clnf_1roi', sim=True, out_dir=out, sets=[
        f'recorder.min_free_mb={too_much}', 'recorder.check_free_space=false']))
    assert session_dir.is_dir()


def test_check_free_space_returns_the_estimate_when_it_fits(tmp_path):
    _, params = cfg.load_params('clnf_1roi')
    params['task']['v.total_trials'] = 1
    params.setdefault('recorder', {})['min_free_mb'] = 0
    assert check_free_space(params, tmp_path / 'not' / 'yet').needed_mb < 1000
