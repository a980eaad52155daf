"""rosbag2 (MCAP storage) writing on the pure-Python `rosbags` library.

No rclpy here: the recorder node hands this module the exact CDR bytes of a raw
subscription (``raw=True``), so what lands in the bag is byte-for-byte what went
over the wire, and the same code runs in tests without ROS.

What rosbags 0.11.9 offers for MCAP (read from ``rosbags/rosbag2/writer.py`` and
``storage_mcap.py``) and what this module does about it:

- ``Writer(path, version=8|9, storage_plugin=StoragePlugin.MCAP)``; version 9
  (``Writer.VERSION_LATEST``) is what Jazzy/Kilted ``ros2 bag`` writes; we use it.
- Chunk size is hard-coded: a chunk is cut when it exceeds 2**20 bytes (1 MiB)
  uncompressed. There is no public option for a smaller chunk and no public
  ``flush()``. The pending chunk lives in a ``BytesIO`` in memory, so without help
  a SIGKILL loses up to 1 MiB -- minutes of data for a topic of small messages.
- ``McapWriter.close_chunk()`` (public name, undocumented) writes the pending chunk
  and its message indices to the file. :class:`McapBagWriter` calls it when its
  own ``chunk_bytes`` limit (<= 1 MiB) or ``max_chunk_age_s`` is reached and on
  :meth:`McapBagWriter.flush`, then flushes the Python file buffer (optionally
  ``os.fsync``). Data in the OS page cache survives a killed process; ``fsync``
  only matters for power loss.
- Compression: ``Writer.set_compression(CompressionMode.STORAGE, ZSTD)`` gives
  zstd-compressed MCAP chunks; ``MESSAGE``/``FILE`` modes are rosbag2's other
  modes. Off by default here (images barely compress and zstd costs CPU per frame).
- ``metadata.yaml`` and the MCAP summary/footer are written only by ``close()``.
  A killed recorder leaves an MCAP file of complete chunks and no footer:
  :func:`clopy_data.salvage.salvage_bag` rewrites such a file into a complete bag (on a ROS install
  ``ros2 bag reindex`` is the alternative).
"""

from __future__ import annotations

import numbers
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.metadata import parse_qos
from rosbags.typesys.store import Typestore

from clopy_data.bag_types import BagError

#: rosbags cuts an MCAP chunk itself once it exceeds this many bytes; a larger
#: ``chunk_bytes`` could never be honoured.
LIBRARY_CHUNK_BYTES = 2**20

#: rosbag2 metadata format version written (the one Jazzy and Kilted write).
BAG_VERSION = 9


def _qos_list(qos_profiles: str | Sequence[Qos | Mapping[str, Any]] | None) -> list[Qos]:
    """Normalise QoS given as rosbag2 YAML text, ``Qos`` tuples or rosbag2 dicts."""
    if not qos_profiles:
        return []
    if isinstance(qos_profiles, str):
        return parse_qos(qos_profiles)
    out: list[Qos] = []
    for item in qos_profiles:
        if isinstance(item, Qos):
            out.append(item)
        else:
            out.extend(parse_qos([dict(item)]))  # type: ignore[list-item]
    return out


class McapBagWriter:
    """Thread-safe rosbag2 writer (MCAP storage, metadata version 9).

    ROS callbacks may arrive on several executor threads, so every operation holds
    one lock. The bag folder must not exist yet (rosbags never overwrites).

    Args:
        bag_dir: bag folder to create; it will hold ``<name>.mcap`` and, after
            :meth:`close`, ``metadata.yaml``.
        typestore: typestore that knows every type passed to :meth:`add_topic`
            (the message definitions stored in the bag come from it).
        chunk_bytes: cut an MCAP chunk once the pending one holds this many
            bytes (1 .. 1 MiB); a crash loses at most one pending chunk.
        max_chunk_age_s: also cut the pending chunk on a write that comes this
            long (seconds) after the previous cut (None: never), so small
            messages are not held in memory for minutes and a sparse message
            after a quiet spell goes to disk at once. Checked only on writes:
            call :meth:`flush` from a timer to cover idle periods.
        fsync: ``os.fsync`` after each cut chunk (power-loss safety; costs a disk
            sync per chunk).
        custom_data: string key/values stored in ``metadata.yaml`` ``custom_data``.
    """

    def __init__(
        self,
        bag_dir: Path,
        typestore: Typestore,
        *,
        chunk_bytes: int = LIBRARY_CHUNK_BYTES,
        max_chunk_age_s: float | None = 1.0,
        fsync: bool = False,
        custom_data: Mapping[str, str] | None = None,
    ) -> None:
        if not 0 < chunk_bytes <= LIBRARY_CHUNK_BYTES:
            raise ValueError(
                f'chunk_bytes={chunk_bytes!r}: must be in 1..{LIBRARY_CHUNK_BYTES} '
                '(rosbags cuts chunks at 1 MiB itself)'
            )
        if max_chunk_age_s is not None and not max_chunk_age_s > 0:
            raise ValueError(f'max_chunk_age_s={max_chunk_age_s!r}: must be > 0 or None')
        self.bag_dir = Path(bag_dir)
        self.typestore = typestore
        self.chunk_bytes = chunk_bytes
        self.max_chunk_age_s = max_chunk_age_s
        self.fsync = fsync
        self._lock = threading.Lock()
        self._closed = False
        self._last_cut = time.monotonic()  # s, monotonic clock
        self._topics: dict[tuple[str, str], Connection] = {}
        try:
            self._writer = Writer(self.bag_dir, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
            for key, value in (custom_data or {}).items():
                self._writer.set_custom_data(str(key), str(value))
            self._writer.open()
        except Exception as exc:
            raise BagError(f'cannot create bag {self.bag_dir}: {exc}') from exc

    # -- properties

    @property
    def mcap_path(self) -> Path:
        """Path of the ``.mcap`` file inside the bag folder."""
        return self.bag_dir / f'{self.bag_dir.name}.mcap'

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    @property
    def supports_chunk_flush(self) -> bool:
        """Whether this rosbags version exposes the internals :meth:`flush` relies on."""
        storage = self._writer.storage
        return storage is not None and callable(getattr(storage, 'close_chunk', None)) and (
            hasattr(storage, 'chunk') and hasattr(storage, 'bio')
        )

    def message_counts(self) -> dict[str, int]:
        """Messages written so far, per topic."""
        with self._lock:
            counts: dict[str, int] = {}
            for conn in self._writer.connections:
                counts[conn.topic] = counts.get(conn.topic, 0) + self._writer.counts[conn.id]
            return counts

    # -- writing

    def add_topic(
        self,
        name: str,
        msgtype: str,
        qos_profiles: str | Sequence[Qos | Mapping[str, Any]] | None = '',
        serialization_format: str = 'cdr',
    ) -> Connection:
        """Register a topic and return the connection to pass to :meth:`write_raw`.

        Registering the same topic and type again returns the first connection
        (a recorder may rediscover a publisher).

        Args:
            name: topic name, e.g. ``/clopy/roi_signal``.
            msgtype: ``pkg/msg/Type`` known to the typestore.
            qos_profiles: offered QoS as rosbag2 YAML text, ``Qos`` tuples or
                rosbag2-style dicts; empty for none.
            serialization_format: ``cdr`` for everything rclpy publishes.
        """
        with self._lock:
            self._check_open()
            key = (name, msgtype)
            if key in self._topics:
                return self._topics[key]
            if msgtype not in self.typestore.fielddefs:
                raise BagError(
                    f'bag {self.bag_dir}: topic {name!r}: type {msgtype!r} is not in the '
                    'typestore (register it, e.g. with typestore_with_clopy())'
                )
            try:
                qos = _qos_list(qos_profiles)
            except Exception as exc:
                raise BagError(
                    f'bag {self.bag_dir}: topic {name!r}: bad qos_profiles {qos_profiles!r}: {exc}'
                ) from exc
            conn = self._writer.add_connection(
                name,
                msgtype,
                typestore=self.typestore,
                serialization_format=serialization_format,
                offered_qos_profiles=qos,
            )
            self._topics[key] = conn
            return conn

    def write_raw(self, connection: Connection, timestamp_ns: int, cdr_bytes: bytes | memoryview) -> None:
        """Append one serialized message.

        Args:
            connection: from :meth:`add_topic`.
            timestamp_ns: receive time, ns since the Unix epoch (rosbag2's log time).
            cdr_bytes: the message exactly as serialized (CDR with its 4-byte header).
        """
        # Integral only (numpy ints welcome): a float would silently lose ns.
        if isinstance(timestamp_ns, bool) or not isinstance(timestamp_ns, numbers.Integral) or timestamp_ns < 0:
            raise BagError(
                f'bag {self.bag_dir}: topic {connection.topic!r}: timestamp_ns must be a '
                f'non-negative int, got {timestamp_ns!r}'
            )
        with self._lock:
            self._check_open()
            self._writer.write(connection, int(timestamp_ns), cdr_bytes)
            if not self.supports_chunk_flush:
                return  # only the library's own 1 MiB chunking applies
            pending = self._writer.storage.chunk.bio.tell()
            if not pending:
                # rosbags just cut a 1 MiB chunk itself; the new one is empty.
                self._last_cut = time.monotonic()
                self._flush_file()
                return
            too_big = pending >= self.chunk_bytes
            too_old = (
                self.max_chunk_age_s is not None
                and time.monotonic() - self._last_cut >= self.max_chunk_age_s
            )
            if too_big or too_old:
                self._cut_chunk()

    def flush(self) -> None:
        """Write the pending chunk (if it holds messages) and flush the file."""
        with self._lock:
            if self._closed:
                return
            self._cut_chunk()

    def close(self) -> None:
        """Finish the MCAP file (index, summary, footer) and write ``metadata.yaml``.

        Safe to call more than once.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._writer.close()
            except Exception as exc:
                raise BagError(f'cannot close bag {self.bag_dir}: {exc}') from exc

    def __enter__(self) -> McapBagWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Close (not abort) even on error: a readable bag of what was recorded
        # is worth more than a consistent-looking empty one.
        self.close()

    # -- internals (lock held)

    def _check_open(self) -> None:
        if self._closed:
            raise BagError(f'bag {self.bag_dir} is closed')

    def _cut_chunk(self) -> None:
        """Close the pending MCAP chunk if it holds messages, then flush to the OS."""
        if not self.supports_chunk_flush:
            return
        storage = self._writer.storage
        # Only chunks with messages: a chunk of just schema/channel records has an
        # inverted time range (start 2**63-1, end 0) that some readers dislike.
        if storage.chunk.msgs:
            storage.close_chunk()
        self._last_cut = time.monotonic()
        self._flush_file()

    def _flush_file(self) -> None:
        bio = self._writer.storage.bio
        bio.flush()
        if self.fsync:
            os.fsync(bio.fileno())
