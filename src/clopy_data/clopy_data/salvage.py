"""Recovery of a bag whose recorder was killed: the complete chunks of its MCAP
file rewritten into a complete bag (on a ROS install ``ros2 bag reindex`` is the
alternative)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

from clopy_data.bag_types import BagError
from clopy_data.bag_write import McapBagWriter


def salvage_bag(bag_dir: Path, out_dir: Path) -> dict[str, int]:
    """Rewrite the MCAP file of an unfinished bag (no footer) into a complete bag.

    Reads the records of every complete chunk in ``bag_dir/*.mcap`` in file order
    and stops at the first truncated record (the chunk being written when the
    process died). Message definitions come from the file's own schema records,
    so no typestore is needed.

    Args:
        bag_dir: folder of the killed recording.
        out_dir: new bag folder to create (must not exist).

    Returns:
        message count per topic in the salvaged bag.
    """
    from mcap.exceptions import McapError
    from mcap.records import Channel, Message, Schema
    from mcap.stream_reader import StreamReader

    bag_dir = Path(bag_dir)
    files = sorted(bag_dir.glob('*.mcap'))
    if len(files) != 1:
        raise BagError(f'{bag_dir}: expected one .mcap file, found {[f.name for f in files]}')
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    messages: list[Message] = []
    with files[0].open('rb') as stream:
        try:
            for record in StreamReader(stream, record_size_limit=None).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message):
                    messages.append(record)
        except (McapError, EOFError, ValueError):
            # Truncated tail: everything before it is complete and kept.
            pass

    types: dict[str, Any] = {}
    for schema in schemas.values():
        if schema.encoding != 'ros2msg':
            raise BagError(f'{files[0]}: schema {schema.name!r} has unsupported encoding {schema.encoding!r}')
        types.update(get_types_from_msg(schema.data.decode('utf-8'), schema.name))
    store = get_typestore(Stores.EMPTY)
    store.register(types)

    with McapBagWriter(Path(out_dir), store) as writer:
        conns: dict[int, Connection] = {}
        for cid, channel in sorted(channels.items()):
            schema = schemas.get(channel.schema_id)
            if schema is None:
                raise BagError(f'{files[0]}: channel {channel.topic!r} has no schema record')
            conns[cid] = writer.add_topic(
                channel.topic,
                schema.name,
                channel.metadata.get('offered_qos_profiles', ''),
                channel.message_encoding,
            )
        for message in messages:
            writer.write_raw(conns[message.channel_id], message.log_time, message.data)
        return writer.message_counts()
