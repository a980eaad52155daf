"""When the camera sends a frame to `image_preview` (viewers: the dashboard, rqt_image_view,
Foxglove): at most `rate_hz`, and only while someone subscribes. Plain Python."""
from __future__ import annotations

import time
from typing import Callable


class PreviewPace:
    """`due()` is asked once per frame; True at most once per 1 / rate_hz s, and only when
    `subscribers()` (asked then, not every frame) is above 0. rate_hz 0: never."""

    def __init__(self, rate_hz: float, subscribers: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = 1.0 / rate_hz if rate_hz > 0 else None
        self.subscribers = subscribers
        self.clock = clock
        self._next_s = float('-inf')
        self.sent = 0

    def due(self) -> bool:
        if self.period_s is None:
            return False
        now = self.clock()
        if now < self._next_s:
            return False
        self._next_s = now + self.period_s   # asked again one period later, watched or not
        if self.subscribers() <= 0:
            return False
        self.sent += 1
        return True
