"""FrameSource: the base class every frame source derives from, its Frame and
SourceError, and small helpers shared by the file and camera sources.

Every source yields ``Frame`` objects holding a uint8 image, (H, W, 3) BGR or
(H, W) mono. Two kinds exist:

* live sources (``live = True``: OpenCV devices, the Pi camera) pace
  themselves, stamp each frame with its capture time and count frames lost
  before it (from gaps in the capture timestamps);
* replay/simulated sources (``live = False``: HDF5, TIFF, video files, the
  synthetic cortex) return the next frame immediately with
  ``capture_time_s = None``; the caller paces them at ``nominal_fps``.

``capture_time_s`` is in seconds on the source's own monotonic clock: the
kernel's frame timestamp where the driver provides one (V4L2 buffer times
and libcamera's ``SensorTimestamp`` are CLOCK_MONOTONIC on Linux, the clock
of ``time.monotonic()``), otherwise ``time.monotonic()`` at arrival.
Differences between frames of one source are always meaningful; comparing
with ``time.monotonic()`` assumes the Linux clock above.
"""
from __future__ import annotations

import abc
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np


class SourceError(RuntimeError):
    """A frame source could not be opened or read.

    The message names the path/device and says what was wrong.
    """


@dataclass
class Frame:
    """One image from a source.

    Attributes:
        image: uint8, (H, W, 3) BGR or (H, W) mono.
        capture_time_s: capture time in s on the source's monotonic clock, or
            None when the source has no capture clock (files, synthetic).
        dropped_before: frames the source knows were lost between the
            previous frame and this one (0 for files).
        index: the frame's index in its original session (bag replay), else None.
        stamp_ns: the frame's original ROS stamp in ns (bag replay), else None.
    """

    image: np.ndarray
    capture_time_s: float | None = None
    dropped_before: int = 0
    index: int | None = None
    stamp_ns: int | None = None


def count_dropped(gap_s: float, interval_s: float) -> int:
    """Frames lost in a timestamp gap between two delivered frames.

    A gap longer than 1.5 frame intervals means at least one frame is
    missing; the count is ``round(gap / interval) - 1`` (a 2-interval gap is
    one lost frame). Gaps up to 1.5 intervals are ordinary jitter.

    Args:
        gap_s: time between consecutive delivered frames, s.
        interval_s: expected frame interval, s (> 0).
    """
    if not (interval_s > 0 and math.isfinite(gap_s)):
        return 0
    if gap_s <= 1.5 * interval_s:
        return 0
    return max(1, int(round(gap_s / interval_s)) - 1)


class FrameSource(abc.ABC):
    """Base class: open/read/close plus context-manager support.

    Attributes (valid after ``open()``):
        width_px, height_px: frame size in px.
        encoding: ``'bgr8'`` for (H, W, 3) BGR frames, ``'mono8'`` for (H, W).
        nominal_fps: expected frame rate in Hz, or None if unknown.
        live: True for cameras (self-paced, self-stamped), False for replay
            and synthetic sources (the caller paces them).
        frame_count: number of frames when known in advance (files), else
            None.
    """

    live: bool = False
    #: the largest (width, height) in px the source can deliver; None: not known
    #: (clopy_acquisition.limits applies its general limits)
    max_size_px: tuple[int, int] | None = None

    def __init__(self) -> None:
        self.width_px: int = 0
        self.height_px: int = 0
        self.encoding: str = 'bgr8'
        self.nominal_fps: float | None = None
        self.frame_count: int | None = None
        self._is_open = False

    @property
    def is_open(self) -> bool:
        """True between a successful ``open()`` and ``close()``."""
        return self._is_open

    def describe(self) -> str:
        """Short human-readable name for messages, e.g. the file path."""
        return type(self).__name__

    def open(self) -> None:
        """Acquire the file/device. Calling it again while open does nothing.

        Raises:
            SourceError: the source cannot be opened; the message says why.
        """
        if self._is_open:
            return
        self._open()
        self._is_open = True

    def read(self) -> Frame | None:
        """Next frame, or None at the end of a file/stream.

        Raises:
            SourceError: the source is not open or a read failed.
        """
        if not self._is_open:
            raise SourceError(f'{self.describe()}: read() before open()')
        return self._read()

    def close(self) -> None:
        """Release the file/device. Safe to call more than once."""
        if self._is_open:
            self._is_open = False
            self._close()

    def __enter__(self) -> 'FrameSource':
        self.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @abc.abstractmethod
    def _open(self) -> None:
        """Open and set width_px/height_px/encoding/nominal_fps."""

    @abc.abstractmethod
    def _read(self) -> Frame | None:
        """Return the next frame or None at the end."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release resources."""


def check_size_rate(width_px: int, height_px: int, fps: float) -> None:
    """ValueError unless the frame size is >= 1 px each way and the rate > 0."""
    if width_px < 1 or height_px < 1:
        raise ValueError(f'width_px={width_px}, height_px={height_px} must be >= 1')
    if not fps > 0:
        raise ValueError(f'fps={fps!r} must be > 0')


def check_file(path: str, kind: str) -> str:
    """Fail early with a clear message; libraries report missing files
    inconsistently (OpenCV just says 'not opened')."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SourceError(f'{kind} file {path!r} does not exist')
    if not os.path.isfile(path):
        raise SourceError(f'{kind} path {path!r} is not a regular file')
    if not os.access(path, os.R_OK):
        raise SourceError(f'{kind} file {path!r} is not readable')
    return path


def image_encoding(shape: tuple[int, ...]) -> str | None:
    """'bgr8' for (H, W, 3), 'mono8' for (H, W), else None."""
    if len(shape) == 3 and shape[2] == 3:
        return 'bgr8'
    if len(shape) == 2:
        return 'mono8'
    return None
