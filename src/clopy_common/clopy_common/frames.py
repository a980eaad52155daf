"""Camera frames as the processing nodes see them: the sensor_msgs/Image on
`image_raw` paired with its FrameInfo on `frame_info` (same stamp), and the
image as a numpy array."""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

from clopy_common.stamps import to_ns

PAIRING_WINDOW = 64   # frames kept while waiting for the other half of a pair


class FramePairer:
    """Calls `on_frame(image_msg, frame_index)` once both halves of a frame arrived,
    whichever came first. Unpaired halves older than PAIRING_WINDOW frames are dropped."""

    def __init__(self, on_frame: Callable[[object, int], None], logger=None) -> None:
        self._deliver = on_frame
        self.logger = logger
        self.last_index: int | None = None
        self.missed = 0     # frames announced by frame_info whose image never came
        self._index_by_stamp: OrderedDict[int, int] = OrderedDict()
        self._waiting_images: OrderedDict[int, object] = OrderedDict()

    def on_info(self, info) -> None:
        key = to_ns(info.header.stamp)
        image = self._waiting_images.pop(key, None)
        if image is not None:
            self.on_frame(image, info.frame_index)
            return
        self._index_by_stamp[key] = info.frame_index
        while len(self._index_by_stamp) > PAIRING_WINDOW:
            self._index_by_stamp.popitem(last=False)

    def on_frame(self, image, index: int) -> None:
        if self.last_index is not None and index > self.last_index + 1:
            gap = index - self.last_index - 1
            self.missed += gap
            if self.logger is not None:
                self.logger.warn(f'{gap} frame(s) before frame {index} never arrived here '
                                 f'({self.missed} so far)')
        self.last_index = index if self.last_index is None else max(index, self.last_index)
        self._deliver(image, index)

    def on_image(self, image) -> None:
        key = to_ns(image.header.stamp)
        index = self._index_by_stamp.pop(key, None)
        if index is None:
            self._waiting_images[key] = image
            while len(self._waiting_images) > PAIRING_WINDOW:
                self._waiting_images.popitem(last=False)
            return
        self.on_frame(image, index)


def image_array(image) -> np.ndarray:
    """(H, W, 3) BGR or (H, W) mono uint8 view of a sensor_msgs/Image (no copy)."""
    channels = 3 if image.encoding == 'bgr8' else 1
    frame = np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, channels)
    return frame if channels == 3 else frame[:, :, 0]
