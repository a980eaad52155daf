"""Recovery of a bag whose recorder was killed: the complete records of its MCAP
file rewritten, as they are read, into a complete bag (on a ROS install
``ros2 bag reindex`` is the alternative).

:func:`salvage_bag` streams: one pass over the file, one record (at most one
chunk, ~1 MiB, or one message larger than that) in memory at a time, each
message written to the new bag as soon as it is read. It reports what was lost
(:class:`SalvageReport`).

:func:`readable_bag` is the one way the offline tools (``tables``, ``plot``,
``threshold``, ``analyze``) open a bag: a closed bag as it is; an unclosed one
salvaged once into its sibling ``<bag>_salvaged/`` (``bag_salvaged/`` in a
session folder), reused while it is newer than the MCAP file.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from rosbags.interfaces import Connection
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

from clopy_data.bag_types import BagError
from clopy_data.bag_write import McapBagWriter
from clopy_data.folder import BAG_METADATA, SALVAGE_REPORT, salvaged_bag_dir

MCAP_MAGIC = b'\x89MCAP0\r\n'
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK, _OP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F
_RECORD_HEAD = struct.Struct('<BQ')        # opcode, body length
_CHUNK_TIMES = struct.Struct('<QQ')        # first fields of a chunk body: message start, end time (ns)


@dataclass
class TopicSpan:
    """The salvaged messages of one topic: how many, first and last log time (ns since the epoch)."""

    count: int = 0
    first_ns: int = 0
    last_ns: int = 0


@dataclass
class SalvageReport:
    """What a salvage kept and what it lost.

    ``lost_bytes``: bytes at the end of the MCAP file that could not be read (a
    record cut short by the kill, or a chunk failing its CRC where the writer
    stored one, and everything after it); 0 when the file ended on a record
    boundary. ``lost_start_ns`` /
    ``lost_end_ns``: the log-time range of the messages in the cut chunk, when
    its header survived (else None). ``topics``: per topic, the salvaged count
    and the time range up to its last complete message. ``reason``: why reading
    stopped ('' when the file ended cleanly).
    """

    source: str
    file_bytes: int
    lost_bytes: int = 0
    lost_start_ns: int | None = None
    lost_end_ns: int | None = None
    reason: str = ''
    topics: dict[str, TopicSpan] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {topic: span.count for topic, span in self.topics.items()}

    @property
    def messages(self) -> int:
        return sum(span.count for span in self.topics.values())

    def line(self) -> str:
        """One line for a terminal: kept messages, last complete message per topic, what was lost."""
        spans = [s for s in self.topics.values() if s.count]
        if not spans:
            kept = 'no complete message'
        else:
            t0 = min(s.first_ns for s in spans)
            last = ', '.join(f'{topic} {(s.last_ns - t0) / 1e9:.3f} s' for topic, s in sorted(self.topics.items())
                             if s.count)
            kept = (f'kept {self.messages} messages on {len(spans)} topics; last complete message '
                    f'(s after the first): {last}')
        if not self.lost_bytes:
            lost = 'nothing unreadable in the file'
        else:
            lost = f'{self.lost_bytes} bytes unreadable at the end of {Path(self.source).name} ({self.reason})'
            if self.lost_start_ns is not None and spans:
                lost += (f', messages from {(self.lost_start_ns - t0) / 1e9:.3f} to '
                         f'{(self.lost_end_ns - t0) / 1e9:.3f} s lost')
        return f'{kept}; {lost}'

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> SalvageReport:
        data = json.loads(text)
        data['topics'] = {k: TopicSpan(**v) for k, v in data['topics'].items()}
        return cls(**data)


class SalvageCounts(dict):
    """Message count per topic of a salvaged bag (a plain dict), with ``.report``."""

    report: SalvageReport


class _Truncated(Exception):
    """Reading stops here: the rest of the file is lost."""


def _records(stream: IO[bytes], file_bytes: int, report: SalvageReport):
    """The schema, channel and message records (``(opcode, record)`` lists) of each
    complete top-level record until the data end, the end of the file or the first
    unreadable record; fills the loss fields of ``report``."""
    position = len(MCAP_MAGIC)
    try:
        while True:
            head = stream.read(_RECORD_HEAD.size)
            if len(head) < _RECORD_HEAD.size:
                if head:
                    raise _Truncated('record header cut short')
                return  # ended on a record boundary
            opcode, length = _RECORD_HEAD.unpack(head)
            if position + len(head) + length > file_bytes:
                if opcode == _OP_CHUNK:
                    times = stream.read(_CHUNK_TIMES.size)
                    if len(times) == _CHUNK_TIMES.size:
                        report.lost_start_ns, report.lost_end_ns = _CHUNK_TIMES.unpack(times)
                raise _Truncated(f'record of {length} bytes (opcode {opcode:#x}) cut short')
            if opcode == _OP_DATA_END:
                return  # the summary follows: nothing more to salvage
            inner = _inner(opcode, stream.read(length))
            position += len(head) + length
            yield inner
    except _Truncated as exc:
        report.reason = str(exc)
        report.lost_bytes = file_bytes - position
    except (BagError, ValueError, struct.error, UnicodeDecodeError) as exc:
        report.reason = f'unreadable record: {exc}'
        report.lost_bytes = file_bytes - position


def _inner(opcode: int, body: bytes) -> list[tuple[int, Any]]:
    """Schema, channel and message records of one top-level record (a chunk holds many)."""
    from mcap.data_stream import ReadDataStream
    from mcap.records import Channel, Chunk, Message, Schema
    from mcap.stream_reader import breakup_chunk

    stream = ReadDataStream(BytesIO(body))
    if opcode == _OP_SCHEMA:
        return [(opcode, Schema.read(stream))]
    if opcode == _OP_CHANNEL:
        return [(opcode, Channel.read(stream))]
    if opcode == _OP_MESSAGE:
        return [(opcode, Message.read(stream, len(body)))]
    if opcode == _OP_CHUNK:
        try:
            records = breakup_chunk(Chunk.read(stream), validate_crc=True)
        except Exception as exc:  # noqa: BLE001 - CRC mismatch, bad compression: the chunk is lost
            raise ValueError(f'chunk failing its check ({type(exc).__name__}: {exc})') from exc
        kinds = {Schema: _OP_SCHEMA, Channel: _OP_CHANNEL, Message: _OP_MESSAGE}
        return [(kinds[type(r)], r) for r in records if type(r) in kinds]
    return []  # header, indices, attachments, metadata: nothing to copy


def salvage_bag(bag_dir: Path, out_dir: Path) -> SalvageCounts:
    """Rewrite the MCAP file of an unfinished bag (no footer) into a complete bag, streaming.

    Reads ``bag_dir/*.mcap`` once, in file order, and writes every message of each
    complete record to the new bag as it is read; stops at the first record cut
    short or failing its check (the chunk being written when the process died).
    Message definitions come from the file's own schema records. Memory holds
    one record at a time, not the bag.

    Args:
        bag_dir: folder of the killed recording.
        out_dir: new bag folder to create (must not exist).

    Returns:
        message count per topic in the salvaged bag (a dict); its ``.report`` is
        the :class:`SalvageReport` (what was lost, time range per topic).
    """
    bag_dir = Path(bag_dir)
    files = sorted(bag_dir.glob('*.mcap'))
    if len(files) != 1:
        raise BagError(f'{bag_dir}: expected one .mcap file, found {[f.name for f in files]}')
    source = files[0]
    file_bytes = source.stat().st_size
    report = SalvageReport(source=str(source), file_bytes=file_bytes)
    store = get_typestore(Stores.EMPTY)
    schemas: dict[int, Any] = {}
    channels: dict[int, Any] = {}
    conns: dict[int, Connection] = {}
    with source.open('rb') as stream, McapBagWriter(Path(out_dir), store, max_chunk_age_s=None) as writer:
        if stream.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
            raise BagError(f'{source}: does not start with the MCAP magic bytes; not an MCAP file')
        for records in _records(stream, file_bytes, report):
            for kind, record in records:
                if kind == _OP_SCHEMA:
                    _add_schema(source, store, schemas, record)
                elif kind == _OP_CHANNEL:
                    channels[record.id] = record
                else:
                    conn = conns.get(record.channel_id)
                    if conn is None:
                        conn = conns[record.channel_id] = _add_channel(source, writer, schemas, channels,
                                                                       record.channel_id)
                    writer.write_raw(conn, record.log_time, record.data)
                    span = report.topics.setdefault(conn.topic, TopicSpan(0, record.log_time, record.log_time))
                    span.count += 1
                    span.first_ns = min(span.first_ns, record.log_time)
                    span.last_ns = max(span.last_ns, record.log_time)
        for cid in sorted(set(channels) - set(conns)):  # topics without a message keep their connection
            _add_channel(source, writer, schemas, channels, cid)
        counts = SalvageCounts(writer.message_counts())
    counts.report = report
    return counts


def _add_schema(source: Path, store, schemas: dict[int, Any], schema) -> None:
    if schema.id in schemas:
        return
    if schema.encoding != 'ros2msg':
        raise BagError(f'{source}: schema {schema.name!r} has unsupported encoding {schema.encoding!r}; '
                       'allowed: ros2msg')
    store.register(get_types_from_msg(schema.data.decode('utf-8'), schema.name))
    schemas[schema.id] = schema


def _add_channel(source: Path, writer: McapBagWriter, schemas, channels, cid: int) -> Connection:
    channel = channels.get(cid)
    if channel is None:
        raise BagError(f'{source}: a message on channel {cid} comes before that channel\'s record')
    schema = schemas.get(channel.schema_id)
    if schema is None:
        raise BagError(f'{source}: channel {channel.topic!r} has no schema record')
    return writer.add_topic(channel.topic, schema.name, channel.metadata.get('offered_qos_profiles', ''),
                            channel.message_encoding)


# ---------------------------------------------------------------- the tools' way in


def readable_bag(bag_dir: Path, *, say=None) -> tuple[Path, SalvageReport | None]:
    """A bag folder the reader can open, and the salvage report when it had to be salvaged.

    A closed bag (with ``metadata.yaml``) is returned as it is. An unclosed one is
    salvaged into :func:`clopy_data.folder.salvaged_bag_dir` (``bag_salvaged/`` next
    to a session's ``bag/``) unless that holds a salvage newer than the MCAP file,
    and one line saying so, with the loss report, goes to ``say`` (default: stderr).
    """
    bag_dir = Path(bag_dir)
    if (bag_dir / BAG_METADATA).is_file():
        return bag_dir, None
    files = sorted(bag_dir.glob('*.mcap')) if bag_dir.is_dir() else []
    if len(files) != 1:
        raise BagError(f'{bag_dir}: no {BAG_METADATA} and {len(files)} .mcap files (expected one); '
                       'not a bag, or not one that can be salvaged')
    out = salvaged_bag_dir(bag_dir)
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    report = _reusable(out, files[0])
    if report is not None:
        say(f'{bag_dir}: not closed (recorder killed?); reading the salvage made earlier in {out}: '
            f'{report.line()}')
        return out, report
    if out.exists():
        shutil.rmtree(out)  # stale, or cut short: the report file is written last
    report = salvage_bag(bag_dir, out).report
    (out / SALVAGE_REPORT).write_text(report.to_json(), encoding='utf-8')
    say(f'{bag_dir}: not closed (recorder killed?); salvaged into {out}: {report.line()}')
    return out, report


def _reusable(out: Path, mcap: Path) -> SalvageReport | None:
    report_path = out / SALVAGE_REPORT
    if not ((out / BAG_METADATA).is_file() and report_path.is_file()):
        return None
    if report_path.stat().st_mtime_ns <= mcap.stat().st_mtime_ns:
        return None  # the recording grew (or was replaced) since
    try:
        return SalvageReport.from_json(report_path.read_text(encoding='utf-8'))
    except (ValueError, TypeError, KeyError):
        return None

