"""The simulated learning mouse: every delivered water reward raises the synthetic
cortex's target-region activity level (its drive), as training would.

``LearningMouse`` wraps a ``SyntheticCortexSource`` as a frame source of its own. A
reward (from any thread) only records the new level; the capture thread applies it
before its next frame, so the level changes between frames, recorded against the
frame index (``frame_at`` stays reproducible). Plain Python: the camera node hands
rewards in through ``on_reward``.
"""
from __future__ import annotations

import threading

from clopy_acquisition.frame_source import Frame, FrameSource

from .synthetic import SyntheticCortexSource


class LearningMouse(FrameSource):
    """A synthetic cortex whose target activity grows with each delivered reward.

    Args:
        cortex: the synthetic cortex source (not yet opened).
        initial_drive: activity level at the start (1 = ``target_rate_hz``).
        learning_per_reward: level gained per delivered reward (0: does not learn).

    Raises:
        ValueError: initial_drive outside [0, cortex.max_drive], or a negative
            learning_per_reward.
    """

    live = False

    def __init__(self, cortex: SyntheticCortexSource, initial_drive: float = 1.0,
                 learning_per_reward: float = 0.0) -> None:
        super().__init__()
        if not learning_per_reward >= 0:
            raise ValueError(f'learning_per_reward={learning_per_reward!r} must be >= 0')
        self.cortex = cortex
        cortex.set_drive(initial_drive)
        self.drive = float(initial_drive)
        self.learning_per_reward = float(learning_per_reward)
        self._pending: float | None = None
        self._lock = threading.Lock()
        self._copy_geometry()

    @property
    def wants_rewards(self) -> bool:
        """True when rewards change anything (the camera then subscribes to them)."""
        return self.learning_per_reward > 0

    def on_reward(self, delivered: bool, rewards_delivered: int) -> str | None:
        """A valve reward event: a delivered one raises the level (up to max_drive)
        from the next frame on. Returns a line for the log, or None."""
        if not delivered:
            return None
        with self._lock:
            self.drive = min(self.cortex.max_drive, self.drive + self.learning_per_reward)
            self._pending = self.drive
        return f'simulated mouse: reward {rewards_delivered}, activity level {self.drive:.3f}'

    def summary(self) -> str:
        return f'final activity level {self.drive:.3f}'

    def _copy_geometry(self) -> None:
        c = self.cortex
        self.width_px, self.height_px, self.encoding = c.width_px, c.height_px, c.encoding
        self.nominal_fps, self.frame_count = c.nominal_fps, c.frame_count

    def describe(self) -> str:
        return self.cortex.describe()

    def _open(self) -> None:
        self.cortex.open()
        self._copy_geometry()

    def _read(self) -> Frame | None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self.cortex.set_drive(pending)
        return self.cortex.read()

    def _close(self) -> None:
        self.cortex.close()
