"""Frames for the page: decoded, made small, encoded; the overlay geometry follows bregma."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from clopy_dashboard.imaging import (Throttle, downscale, image_array, preview_jpeg, roi_geometry,
                                     synthetic_preview)
from clopy_signal.roi import rois_from_config


def test_image_array_reads_each_encoding_with_row_padding():
    h, w = 4, 5
    bgr = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    padded = np.zeros((h, w * 3 + 3), np.uint8)
    padded[:, :w * 3] = bgr.reshape(h, -1)
    assert np.array_equal(image_array('bgr8', h, w, w * 3 + 3, padded.tobytes()), bgr)
    assert np.array_equal(image_array('rgb8', h, w, w * 3, bgr[:, :, ::-1].tobytes()), bgr)
    mono = np.arange(h * w, dtype=np.uint8).reshape(h, w)
    assert np.array_equal(image_array('mono8', h, w, w, mono.tobytes()), mono)
    m16 = (np.arange(h * w, dtype='<u2').reshape(h, w) * 100)
    out = image_array('mono16', h, w, w * 2, m16.tobytes())
    assert out.dtype == np.uint8 and out.max() == 255 and out.min() == 0
    with pytest.raises(ValueError, match='bayer_rggb8'):
        image_array('bayer_rggb8', h, w, w, mono.tobytes())


def test_downscale_keeps_the_aspect_and_never_enlarges():
    big = np.zeros((480, 640, 3), np.uint8)
    assert downscale(big, 320).shape == (240, 320, 3)
    small = np.zeros((100, 50), np.uint8)
    assert downscale(small, 320) is small


def test_preview_jpeg_is_a_small_image_that_decodes_to_the_picture():
    img = synthetic_preview(512, 512)
    jpeg = preview_jpeg(img, 256)
    back = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert back.shape == (256, 256, 3)
    assert back.std() > 10   # not blank: the lit oval against the dark
    assert abs(float(back.mean()) - float(cv2.resize(img, (256, 256)).mean())) < 3


def test_overlay_geometry_is_roi_dff_s_own_boxes_and_moves_with_bregma():
    params = {'rois': ['BC_L', 'spot=10,20,6,8'], 'bregma_row_px': 135.0, 'bregma_col_px': 128.0,
              'px_per_mm': 25.6, 'roi_size_mm': 0.3, 'frame_height_px': 256, 'frame_width_px': 256}
    g = roi_geometry(params)
    expected = rois_from_config(params['rois'], 256, 256, 135.0, 128.0, 25.6, 0.3)
    assert [(r['name'], r['row'], r['col'], r['height'], r['width']) for r in g['rois']] == \
        [(r.name, r.row_px, r.col_px, r.height_px, r.width_px) for r in expected]
    moved = roi_geometry(dict(params, bregma_row_px=145.0, bregma_col_px=118.0))
    assert moved['rois'][0]['row'] == g['rois'][0]['row'] + 10 and moved['rois'][0]['col'] == g['rois'][0]['col'] - 10
    assert moved['rois'][1] == g['rois'][1]   # an explicit box stays where it is
    assert len(g['seeds']) == 40 and g['bregma'] == [135.0, 128.0]


def test_throttle_lets_a_few_frames_a_second_through():
    now = [0.0]
    t = Throttle(4.0, clock=lambda: now[0])
    passed = 0
    for i in range(150):   # 10 s at 15 fps
        now[0] = i / 15.0
        passed += t.accept()
    assert 30 <= passed <= 40
