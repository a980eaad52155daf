"""Frames for the page: a camera image made small and JPEG-encoded at a few frames per
second, and the geometry drawn over it (ROI boxes, atlas seeds, bregma, body parts).
Plain Python (numpy, OpenCV); the overlays are drawn by the page, in frame pixels."""
from __future__ import annotations

import threading
import time
from typing import Callable

import cv2
import numpy as np

from clopy_signal.atlas import SEEDS_MM, seed_centre_px
from clopy_signal.roi import rois_from_config

#: the longest side of an image sent to the page, px
PREVIEW_SIDE_PX = 320
JPEG_QUALITY = 75


class Throttle:
    """Lets one call through per `1 / rate_hz` s (the rest are skipped, never queued)."""

    def __init__(self, rate_hz: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = 1.0 / rate_hz
        self.clock = clock
        self._next_s = float('-inf')
        self._lock = threading.Lock()

    def accept(self) -> bool:
        with self._lock:
            now = self.clock()
            if now < self._next_s:
                return False
            self._next_s = now + self.period_s
            return True


def image_array(encoding: str, height: int, width: int, step: int, data: bytes) -> np.ndarray:
    """A sensor_msgs/Image's pixels as an 8-bit array (H, W) or (H, W, 3) BGR.
    ValueError naming the encoding for one the page cannot show."""
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    if encoding in ('bgr8', 'rgb8'):
        img = raw.reshape(height, step)[:, :width * 3].reshape(height, width, 3)
        return img[:, :, ::-1] if encoding == 'rgb8' else img
    if encoding == 'mono8':
        return raw.reshape(height, step)[:, :width]
    if encoding == 'mono16':
        img = raw.reshape(height, step)[:, :width * 2].copy().view('<u2')
        top = max(int(img.max()), 1)
        return (img.astype(np.float32) * (255.0 / top)).astype(np.uint8)
    raise ValueError(f'image encoding {encoding!r}: the dashboard shows bgr8, rgb8, mono8 and mono16')


def downscale(img: np.ndarray, side_px: int = PREVIEW_SIDE_PX) -> np.ndarray:
    """The image with its longest side at most `side_px` (area averaging; never enlarged)."""
    h, w = img.shape[:2]
    scale = side_px / max(h, w)
    if scale >= 1.0:
        return img
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def encode_jpeg(img: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError('the image could not be JPEG-encoded')
    return buf.tobytes()


def preview_jpeg(img: np.ndarray, side_px: int = PREVIEW_SIDE_PX) -> bytes:
    return encode_jpeg(downscale(img, side_px))


def roi_geometry(roi_dff: dict) -> dict:
    """What the page draws over a cortex image, in frame pixels, from roi_dff's parameters:
    {'frame': [h, w], 'bregma': [row, col], 'px_per_mm', 'rois': [{name, row, col, height,
    width}], 'seeds': [{name, row, col}]} (every atlas seed on both sides)."""
    h = int(roi_dff.get('frame_height_px', 256))
    w = int(roi_dff.get('frame_width_px', 256))
    b_row = float(roi_dff.get('bregma_row_px', 135.0))
    b_col = float(roi_dff.get('bregma_col_px', 128.0))
    px_per_mm = float(roi_dff.get('px_per_mm', 25.6))
    rois = rois_from_config(list(roi_dff.get('rois', ['M1_L'])), h, w, b_row, b_col, px_per_mm,
                            float(roi_dff.get('roi_size_mm', 0.3)))
    seeds = []
    for seed in SEEDS_MM:
        for side in ('L', 'R'):
            col, row = seed_centre_px(f'{seed}_{side}', b_row, b_col, px_per_mm)
            seeds.append({'name': f'{seed}_{side}', 'row': row, 'col': col})
    return {'frame': [h, w], 'bregma': [b_row, b_col], 'px_per_mm': px_per_mm,
            'roi_size_mm': float(roi_dff.get('roi_size_mm', 0.3)),
            'rois': [{'name': r.name, 'row': r.row_px, 'col': r.col_px, 'height': r.height_px,
                      'width': r.width_px, 'spec': spec} for r, spec in zip(rois, roi_dff.get('rois', ['M1_L']))],
            'seeds': seeds}


def synthetic_preview(height_px: int = 256, width_px: int = 256, seed: int = 0) -> np.ndarray:
    """A stand-in for a mouse's cortex when it has no session yet: a lit oval with a
    midline and some texture, 8-bit BGR."""
    rows, cols = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    cy, cx = height_px * 0.5, width_px * 0.5
    oval = ((rows - cy) / (0.46 * height_px)) ** 2 + ((cols - cx) / (0.42 * width_px)) ** 2
    lit = np.clip(1.2 - oval, 0.0, 1.0)
    midline = 1.0 - 0.35 * np.exp(-((cols - cx) / 2.5) ** 2)
    texture = 0.9 + 0.1 * np.random.default_rng(seed).random((height_px, width_px), dtype=np.float32)
    green = (200.0 * lit * midline * texture).astype(np.uint8)
    return np.dstack([green // 3, green, green // 4])
