"""rosbag2 (MCAP storage) reading on the pure-Python ``rosbags`` library."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.rosbag2 import Reader
from rosbags.typesys.store import Typestore

from clopy_data.bag_types import BagError, typestore_from_definitions
from clopy_data.folder import BAG_METADATA


class BagMessage(NamedTuple):
    """One message read from a bag; unpacks as ``(topic, msgtype, timestamp_ns, msg)``."""

    topic: str
    msgtype: str
    timestamp_ns: int  # receive (log) time in ns since the Unix epoch
    msg: Any


def _check_bag_dir(bag_dir: Path) -> None:
    if not (bag_dir / BAG_METADATA).is_file():
        raise BagError(
            f'{bag_dir}: no {BAG_METADATA} (recorder killed before close?); '
            'recover it with clopy_data.salvage.salvage_bag()'
        )


def read_bag(
    bag_dir: Path,
    typestore: Typestore | None = None,
    topics: Sequence[str] | None = None,
) -> Iterator[BagMessage]:
    """Deserialized messages of a rosbag2 bag, in timestamp order.

    A message is decoded with ``typestore`` when it knows the type with the same
    RIHS01 hash the bag recorded; otherwise (no typestore, an unknown type, or a
    definition that changed since recording) with the definition stored in the
    bag, so old bags stay readable.

    Args:
        bag_dir: bag folder (with ``metadata.yaml``).
        typestore: e.g. :func:`typestore_with_clopy`; None uses the bag's definitions.
        topics: only these topics; None for all.
    """
    bag_dir = Path(bag_dir)
    _check_bag_dir(bag_dir)
    with Reader(bag_dir) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        if not conns:
            return  # rosbags reads every connection when given none
        decoders: dict[int, Typestore] = {}
        fallback: list[Connection] = []
        for conn in conns:
            known = typestore is not None and conn.msgtype in typestore.fielddefs
            if known and conn.digest and typestore.hash_rihs01(conn.msgtype) != conn.digest:
                known = False  # definition changed since the bag was written
            if known:
                decoders[conn.id] = typestore  # type: ignore[assignment]
            else:
                fallback.append(conn)
        if fallback:
            missing = [c.msgtype for c in fallback if c.msgdef.format == MessageDefinitionFormat.NONE]
            if missing:
                raise BagError(f'{bag_dir}: no definition for types {sorted(set(missing))}')
            embedded = typestore_from_definitions(fallback)
            for conn in fallback:
                decoders[conn.id] = embedded
        for conn, timestamp, raw in reader.messages(connections=conns):
            try:
                msg = decoders[conn.id].deserialize_cdr(raw, conn.msgtype)
            except Exception as exc:
                raise BagError(
                    f'{bag_dir}: topic {conn.topic!r} at {timestamp} ns: cannot decode '
                    f'{conn.msgtype}: {exc}'
                ) from exc
            yield BagMessage(conn.topic, conn.msgtype, timestamp, msg)


def topic_counts(bag_dir: Path) -> dict[str, int]:
    """Message count per topic, from the bag's ``metadata.yaml``."""
    bag_dir = Path(bag_dir)
    _check_bag_dir(bag_dir)
    counts: dict[str, int] = {}
    with Reader(bag_dir) as reader:
        for conn in reader.connections:
            counts[conn.topic] = counts.get(conn.topic, 0) + conn.msgcount
    return counts
