"""The few frames of the Foxglove WebSocket protocol that a client needs to watch a
topic: the subscribe request and the binary message-data frame. Used by the checks of
the bridge. Plain Python.

foxglove-sdk (0.30) names the protocol ``foxglove.sdk.v1`` in the WebSocket handshake and
refuses the older name ``foxglove.websocket.v1`` (HTTP 400); the messages are the same
under both names. A client offers both (SUBPROTOCOLS) and works with either kind of server.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass

SUBPROTOCOL = 'foxglove.sdk.v1'   # what foxglove-sdk accepts
LEGACY_SUBPROTOCOL = 'foxglove.websocket.v1'   # the same protocol, as older servers name it
SUBPROTOCOLS = (SUBPROTOCOL, LEGACY_SUBPROTOCOL)
MESSAGE_DATA_OPCODE = 0x01
_HEADER = struct.Struct('<BIQ')   # opcode, subscription id, receive time (ns)


@dataclass(frozen=True)
class MessageData:
    subscription_id: int
    log_time_ns: int
    payload: bytes   # the message as its channel encodes it (here: CDR with its 4-byte header)


def subscribe(subscription_id: int, channel_id: int) -> str:
    """Text frame asking for a channel's messages under ``subscription_id``."""
    return json.dumps({'op': 'subscribe', 'subscriptions': [{'id': subscription_id, 'channelId': channel_id}]})


def unsubscribe(*subscription_ids: int) -> str:
    return json.dumps({'op': 'unsubscribe', 'subscriptionIds': list(subscription_ids)})


def parse_message_data(frame: bytes) -> MessageData:
    """A binary message-data frame; ValueError for any other binary frame."""
    if len(frame) < _HEADER.size or frame[0] != MESSAGE_DATA_OPCODE:
        raise ValueError(f'not a message-data frame (opcode {frame[:1].hex() or "none"}, {len(frame)} bytes)')
    _, sub_id, log_time = _HEADER.unpack_from(frame)
    return MessageData(sub_id, log_time, bytes(frame[_HEADER.size:]))


def channels_by_topic(advertise: dict) -> dict[str, dict]:
    """topic -> channel of an 'advertise' message."""
    if advertise.get('op') != 'advertise':
        raise ValueError(f"not an advertise message: op {advertise.get('op')!r}")
    return {c['topic']: c for c in advertise['channels']}
