"""Alignment: the placement a mouse's next session uses, saved through the mouse profile,
and the alignment routes with their guard (FastAPI's test client, no server)."""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from clopy import config as cfg
from clopy.profile import load_profile
from clopy_dashboard.alignment import alignment_image, newest_session, placement, save_alignment
from clopy_dashboard.commands import make_app
from clopy_dashboard.security import Guard

BASE = 'http://127.0.0.1:8080'


def test_saved_bregma_holds_for_every_paradigm_moved_rois_for_one(tmp_path):
    assert placement(tmp_path, 'M7', 'clnf_2roi')['bregma_row_px'] == 135.0
    save_alignment(tmp_path, 'M7', 'clnf_1roi', 140.0, 120.5)
    assert placement(tmp_path, 'M7', 'clnf_2roi')['bregma_col_px'] == 120.5
    place = save_alignment(tmp_path, 'M7', 'clnf_1roi', 140.0, 120.5, rois=['M1_L=100,60,8,8'])
    assert place['rois'] == ['M1_L=100,60,8,8']
    assert placement(tmp_path, 'M7', 'clnf_2roi')['rois'] == ['BC_L', 'BC_R']
    profile = load_profile(tmp_path, 'M7')
    assert profile['parameters'] == {'roi_dff.bregma_row_px': 140.0, 'roi_dff.bregma_col_px': 120.5}
    assert profile['paradigms'] == {'clnf_1roi': {'roi_dff.rois': ['M1_L=100,60,8,8']}}


def test_a_placement_outside_the_frame_is_refused_naming_it(tmp_path):
    with pytest.raises(cfg.ConfigError, match='bregma_row_px = 300.0; allowed: 0 to 256'):
        save_alignment(tmp_path, 'M7', 'clnf_1roi', 300.0, 100.0)
    with pytest.raises(cfg.ConfigError, match="M1_L"):
        save_alignment(tmp_path, 'M7', 'clnf_1roi', 135.0, 128.0, rois=['M1_L=250,250,8,8'])
    with pytest.raises(cfg.ConfigError, match='clnf_1roi, clnf_2roi'):
        placement(tmp_path, 'M7', 'clmf')
    assert not (tmp_path / 'subjects').exists()


def test_the_image_is_the_newest_session_s_or_a_synthetic_one(tmp_path):
    for paradigm, name in (('clnf_1roi', 'M7_20260101-100000'), ('clnf_1roi', 'M7_20260301-100000'),
                           ('clnf_1roi', 'M8_20270101-100000'), ('clnf_1roi', 'M7_b_20270101-100000'),
                           ('clmf', 'M7_20270101-100000')):
        (tmp_path / paradigm / name).mkdir(parents=True)
        (tmp_path / paradigm / name / 'parameters.yaml').write_text('{}')
    # not another mouse's (M7_b), not a behaviour camera's (clmf)
    assert newest_session(tmp_path, 'M7').name == 'M7_20260301-100000'
    assert newest_session(tmp_path, 'M7', 'clmf').name == 'M7_20270101-100000'
    img, source = alignment_image(tmp_path, 'M7', {'frame_height_px': 200, 'frame_width_px': 180})
    assert img.shape == (200, 180, 3) and 'synthetic' in source and np.asarray(img).std() > 10


def test_alignment_routes_save_through_the_guard(tmp_path):
    client = TestClient(make_app(tmp_path, 'M9', 'clnf_1roi', Guard.for_bind('127.0.0.1')), base_url=BASE)
    got = client.get('/api/align').json()
    assert got['mouse'] == 'M9' and got['geometry']['bregma'] == [135.0, 128.0]
    assert client.get('/api/align/image.jpg').content[:2] == b'\xff\xd8'
    moved = client.get('/api/align/geometry', params={'bregma_row_px': 145, 'bregma_col_px': 128}).json()
    assert moved['rois'][0]['row'] == got['geometry']['rois'][0]['row'] + 10
    body = {'mouse': 'M9', 'paradigm': 'clnf_1roi', 'bregma_row_px': 145.0, 'bregma_col_px': 128.0}
    assert client.post('/api/align', json=body).status_code == 403           # no Origin
    assert client.post('/api/align', json=body, headers={'Origin': 'http://evil.example'}).status_code == 403
    assert not (tmp_path / 'subjects').exists()
    ok = client.post('/api/align', json=body, headers={'Origin': BASE})
    assert ok.status_code == 200, ok.text
    profile = yaml.safe_load((tmp_path / 'subjects' / 'M9' / 'profile.yaml').read_text())
    assert profile['parameters']['roi_dff.bregma_row_px'] == 145.0
    bad = client.post('/api/align', json=dict(body, bregma_col_px=-5.0), headers={'Origin': BASE})
    assert bad.status_code == 422 and 'bregma_col_px' in bad.json()['detail']


def test_off_loopback_a_change_without_the_token_is_refused(tmp_path):
    guard = Guard.for_bind('0.0.0.0')
    client = TestClient(make_app(tmp_path, 'M9', 'clnf_1roi', guard), base_url=BASE)
    body = {'mouse': 'M9', 'paradigm': 'clnf_1roi', 'bregma_row_px': 140.0, 'bregma_col_px': 128.0}
    assert client.post('/api/align', json=body, headers={'Origin': BASE}).status_code == 401
    assert client.post('/api/align', json=body, headers={'Origin': BASE, 'X-Clopy-Token': 'x'}).status_code == 401
    assert not (tmp_path / 'subjects').exists()
    ok = client.post('/api/align', json=body, headers={'Origin': BASE, 'X-Clopy-Token': guard.token})
    assert ok.status_code == 200
    assert client.get('/api/nav').json()['token_required'] is True
    assert client.get('/api/align').status_code == 401            # the mouse's data needs it too
    assert client.get('/api/align/image.jpg').status_code == 401
    assert client.get('/api/align', headers={'X-Clopy-Token': guard.token}).status_code == 200
    assert client.get('/api/align/image.jpg', params={'token': guard.token}).status_code == 200
