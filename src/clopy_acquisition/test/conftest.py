"""The small video file the file and camera source tests read."""
import cv2
import numpy as np
import pytest
from acquisition_files import LEVELS, H, W


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
