"""Camera frames as the processing nodes see them: the sensor_msgs/Image on
`image_raw`, which carries its frame index in `header.frame_id`
(`<camera.frame_id>#<index>`, see `image_frame_id`), so a node reading images needs no
second message (the FrameInfo of the same frame); and the image as a numpy array."""
from __future__ import annotations

from typing import Callable

import numpy as np
from std_msgs.msg import Header


INDEX_SEPARATOR = '#'


def image_frame_id(frame_id: str, index: int) -> str:
    """header.frame_id of the camera's image of frame `index`: 'camera#123'."""
    return f'{frame_id}{INDEX_SEPARATOR}{index}'


def frame_index_of(header) -> int | None:
    """The frame index an image's header carries (image_frame_id), else None."""
    _, sep, index = header.frame_id.rpartition(INDEX_SEPARATOR)
    return int(index) if sep and index.isdigit() else None


def frame_header(header):
    """A copy of an image's header for what is computed from it: the same stamp, the
    camera's frame_id without the index ('camera#123' -> 'camera')."""
    base, sep, index = header.frame_id.rpartition(INDEX_SEPARATOR)
    return Header(stamp=header.stamp, frame_id=base if sep and index.isdigit() else header.frame_id)


class FrameIndexer:
    """Calls `on_frame(image_msg, frame_index)` for each image, at once, with the index the
    image carries (image_frame_id). An image without one (another camera driver) is
    numbered in arrival order, said once in the log. Frames the index skips (lost on the
    way: the image topic is best effort) are counted in `missed` and logged."""

    def __init__(self, on_frame: Callable[[object, int], None], logger=None) -> None:
        self._deliver = on_frame
        self.logger = logger
        self.last_index: int | None = None
        self.missed = 0     # frames whose image never came here
        self.unnumbered = 0  # images without an index, numbered here

    def on_image(self, image) -> None:
        index = frame_index_of(image.header)
        if index is None:
            index = 0 if self.last_index is None else self.last_index + 1
            self.unnumbered += 1
            if self.unnumbered == 1 and self.logger is not None:
                self.logger.warn(f'an image without a frame index in header.frame_id '
                                 f'({image.header.frame_id!r}; clopy\'s camera sends "camera#<index>"): '
                                 'images are numbered in arrival order')
        if self.last_index is not None and index > self.last_index + 1:
            gap = index - self.last_index - 1
            self.missed += gap
            if self.logger is not None:
                self.logger.warn(f'{gap} frame(s) before frame {index} never arrived here '
                                 f'({self.missed} so far)')
        self.last_index = index if self.last_index is None else max(index, self.last_index)
        self._deliver(image, index)


def image_array(image) -> np.ndarray:
    """(H, W, 3) BGR or (H, W) mono uint8 view of a sensor_msgs/Image (no copy)."""
    channels = 3 if image.encoding == 'bgr8' else 1
    frame = np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, channels)
    return frame if channels == 3 else frame[:, :, 0]
