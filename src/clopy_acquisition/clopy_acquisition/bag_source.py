"""Replay of a recorded CLoPy session's camera frames from its rosbag2 bag."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from clopy_data.folder import BAG, BAG_METADATA

from .frame_source import Frame, FrameSource, SourceError


class BagSource(FrameSource):
    """Frames of a recorded CLoPy session: `image_raw` paired with `frame_info`
    by stamp, in frame order, with their original stamps and indices (so a
    re-run sees exactly the times the session saw).

    Args:
        path: a session folder (holding ``bag/``) or a rosbag2 bag folder.
    """

    live = False
    IMAGE_TOPIC = 'image_raw'
    INFO_TOPIC = 'frame_info'

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._reader = None
        self._messages = None
        self._store = None
        self._pending_images: dict[int, Any] = {}
        self._pending_index: dict[int, int] = {}
        self._last_index: int | None = None

    def describe(self) -> str:
        return f'recording {self.path!r}'

    def _bag_dir(self) -> str:
        for candidate in (os.path.join(self.path, BAG), self.path):
            if os.path.isfile(os.path.join(candidate, BAG_METADATA)):
                return candidate
        raise SourceError(f'recording {self.path!r}: no rosbag2 bag there (expected a session folder '
                          f'with {BAG}/{BAG_METADATA}, or a bag folder)')

    def _open(self) -> None:
        from rosbags.rosbag2 import Reader
        from rosbags.typesys import Stores, get_types_from_msg, get_typestore
        bag_dir = self._bag_dir()
        try:
            reader = Reader(bag_dir)
            reader.open()
        except Exception as exc:  # noqa: BLE001 - rosbags raises several kinds
            raise SourceError(f'recording {bag_dir!r} cannot be opened: {exc}') from exc
        store = get_typestore(Stores.ROS2_KILTED)
        conns = [c for c in reader.connections if c.topic in (self.IMAGE_TOPIC, self.INFO_TOPIC)]
        topics = {c.topic for c in conns}
        if topics != {self.IMAGE_TOPIC, self.INFO_TOPIC}:
            reader.close()
            raise SourceError(f'recording {bag_dir!r} has no {sorted({self.IMAGE_TOPIC, self.INFO_TOPIC} - topics)} '
                              f'topic: it was recorded without images (record_images: false)')
        for conn in conns:
            if conn.msgtype not in store.fielddefs:
                # our own types: their definitions are stored in the bag
                text = conn.msgdef.data.split('\n' + '=' * 80)[0]
                store.register(get_types_from_msg(text, conn.msgtype))
        self._reader, self._store = reader, store
        self._messages = reader.messages(connections=conns)
        self.nominal_fps = None
        first = self._peek_first()
        self.height_px, self.width_px = first.image.shape[:2]
        self.encoding = 'bgr8' if first.image.ndim == 3 else 'mono8'
        self._first = first

    def _peek_first(self) -> Frame:
        frame = self._next_frame()
        if frame is None:
            raise SourceError(f'recording {self.path!r} holds no complete frame')
        return frame

    def _next_frame(self) -> Frame | None:
        for conn, _, raw in self._messages:
            msg = self._store.deserialize_cdr(raw, conn.msgtype)
            key = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            if conn.topic == self.INFO_TOPIC:
                image = self._pending_images.pop(key, None)
                if image is None:
                    self._pending_index[key] = int(msg.frame_index)
                    continue
                return self._frame(image, int(msg.frame_index), key)
            index = self._pending_index.pop(key, None)
            if index is None:
                self._pending_images[key] = msg
                continue
            return self._frame(msg, index, key)
        return None

    def _frame(self, image_msg, index: int, stamp_ns: int) -> Frame:
        channels = 3 if image_msg.encoding == 'bgr8' else 1
        image = np.frombuffer(bytes(image_msg.data), np.uint8).reshape(
            image_msg.height, image_msg.width, channels)
        if channels == 1:
            image = image[:, :, 0]
        dropped = 0 if self._last_index is None else max(0, index - self._last_index - 1)
        self._last_index = index
        return Frame(image, dropped_before=dropped, index=index, stamp_ns=stamp_ns)

    def _read(self) -> Frame | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        return self._next_frame()

    def _close(self) -> None:
        self._reader.close()
        self._reader = self._messages = None
