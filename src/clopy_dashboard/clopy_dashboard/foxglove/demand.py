"""Which topics Foxglove clients want. The server's listener calls ``add``/``remove``
from its own thread; the node reads ``wanted()`` in its executor and keeps a ROS
subscription exactly for those topics, so a session nobody watches pays nothing.
Plain Python, thread-safe."""
from __future__ import annotations

import threading


class Demand:
    """Subscriptions of clients to topics: (client id, topic) pairs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: set[tuple[int, str]] = set()
        self._version = 0

    def add(self, client_id: int, topic: str) -> None:
        with self._lock:
            if (client_id, topic) not in self._pairs:
                self._pairs.add((client_id, topic))
                self._version += 1

    def remove(self, client_id: int, topic: str) -> None:
        with self._lock:
            if (client_id, topic) in self._pairs:
                self._pairs.discard((client_id, topic))
                self._version += 1

    def wanted(self) -> set[str]:
        """Topics at least one client subscribes to."""
        with self._lock:
            return {topic for _, topic in self._pairs}

    @property
    def version(self) -> int:
        """Grows with every change (a reader that saw this number has nothing new to do)."""
        with self._lock:
            return self._version
