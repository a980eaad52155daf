"""The bridge's WebSocket server without ROS: a client speaking the Foxglove protocol
sees every channel advertised with its schema, its subscriptions reach Demand, and the
bytes handed to a channel arrive unchanged in a message-data frame."""
from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from clopy_dashboard.foxglove import protocol
from clopy_dashboard.foxglove.schemas import channel_specs
from clopy_dashboard.foxglove.server import BridgeServer


async def _until(predicate, timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < end, 'timed out'
        await asyncio.sleep(0.02)


def test_advertise_subscribe_and_message_data():
    server = BridgeServer(channel_specs(['control_signal', 'image_raw']), {'control_signal': '/rig1/control_signal'})
    port = server.start('127.0.0.1', 0)
    assert port > 0 and server.port == port

    async def client():
        async with websockets.connect(f'ws://127.0.0.1:{port}', subprotocols=list(protocol.SUBPROTOCOLS)) as ws:
            assert ws.subprotocol == protocol.SUBPROTOCOL
            info = json.loads(await ws.recv())
            assert info['op'] == 'serverInfo' and info['name'] == 'clopy'
            channels = protocol.channels_by_topic(json.loads(await ws.recv()))
            assert set(channels) == {'/rig1/control_signal', '/image_raw'}
            ch = channels['/rig1/control_signal']
            assert (ch['encoding'], ch['schemaEncoding']) == ('cdr', 'ros2msg')
            assert ch['schemaName'] == 'clopy_interfaces/msg/ControlSignal' and 'float64 value' in ch['schema']
            assert server.demand.wanted() == set()
            await ws.send(protocol.subscribe(5, ch['id']))
            await _until(lambda: server.demand.wanted() == {'control_signal'})
            payload = b'\x00\x01\x00\x00' + bytes(range(40))
            server.publish('control_signal', payload, 1_700_000_000_123_456_789)
            server.publish('image_raw', b'\x00\x01\x00\x00not subscribed', 1)
            data = protocol.parse_message_data(await asyncio.wait_for(ws.recv(), 5))
            assert (data.subscription_id, data.log_time_ns, data.payload) == (5, 1_700_000_000_123_456_789, payload)
            await ws.send(protocol.unsubscribe(5))
            await _until(lambda: server.demand.wanted() == set())
    try:
        asyncio.run(client())
    finally:
        server.close()

    async def refused():
        with pytest.raises(OSError):
            await websockets.connect(f'ws://127.0.0.1:{port}', subprotocols=list(protocol.SUBPROTOCOLS))
    asyncio.run(refused())


def test_a_taken_port_is_an_error_naming_it():
    first = BridgeServer(channel_specs(['control_signal']))
    port = first.start('127.0.0.1', 0)
    try:
        with pytest.raises(RuntimeError, match=f'cannot listen on 127.0.0.1:{port}'):
            BridgeServer(channel_specs(['control_signal'])).start('127.0.0.1', port)
    finally:
        first.close()


def test_message_data_frames_are_told_apart():
    frame = bytes([1]) + (7).to_bytes(4, 'little') + (99).to_bytes(8, 'little') + b'abc'
    assert protocol.parse_message_data(frame) == protocol.MessageData(7, 99, b'abc')
    with pytest.raises(ValueError, match='opcode 02'):
        protocol.parse_message_data(bytes([2]) + bytes(12))
    with pytest.raises(ValueError, match='not an advertise'):
        protocol.channels_by_topic({'op': 'serverInfo'})
    assert json.loads(protocol.subscribe(3, 9)) == {'op': 'subscribe', 'subscriptions': [{'id': 3, 'channelId': 9}]}
