"""Base of the simulation cameras: frame i is a pure function ``frame_at(i)``, read
in order from frame 0 (again after each ``open()``), up to ``frame_count`` if set."""
from __future__ import annotations

import abc

import numpy as np
from clopy_acquisition.frame_source import Frame, FrameSource


class RenderedSource(FrameSource):
    """A simulated camera: not live (the camera node paces it), no capture clock."""

    live = False

    def __init__(self) -> None:
        super().__init__()
        self._next_index = 0

    @abc.abstractmethod
    def frame_at(self, index: int) -> np.ndarray:
        """Frame number ``index``, the same however the frames are visited."""

    @property
    def frame_index(self) -> int:
        """Index of the frame the next ``read()`` returns."""
        return self._next_index

    def _open(self) -> None:
        self._next_index = 0  # (re)opening restarts at frame 0

    def _read(self) -> Frame | None:
        if self.frame_count is not None and self._next_index >= self.frame_count:
            return None
        image = self.frame_at(self._next_index)
        self._next_index += 1
        return Frame(image, None, 0)

    def _close(self) -> None:
        pass
