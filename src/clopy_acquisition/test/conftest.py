"""Small real files and frame helpers shared by the frame-source tests."""
import cv2
import numpy as np
import pytest

N, H, W = 6, 12, 16


def bgr_stack(n=N, h=H, w=W):
    """Frames whose pixels encode (frame, channel) so mix-ups show."""
    stack = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        stack[i, ..., 0] = 10 + i      # blue
        stack[i, ..., 1] = 100 + i     # green
        stack[i, ..., 2] = 200 + i     # red
        stack[i, i % h, :, 0] = 0      # a per-frame stripe
    return stack


def read_all(source):
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


LEVELS = [20, 60, 100, 140, 180]


@pytest.fixture
def avi_path(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*'MJPG'), 15.0,
                             (W * 2, H * 2))
    assert writer.isOpened()
    for level in LEVELS:
        writer.write(np.full((H * 2, W * 2, 3), level, np.uint8))
    writer.release()
    return path
