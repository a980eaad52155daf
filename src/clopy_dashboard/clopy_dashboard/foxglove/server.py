"""The foxglove-sdk WebSocket server and one channel per served topic (no rclpy).

Each channel carries CDR bytes ('cdr') with the topic's ros2msg schema, so Foxglove
decodes and plots them as it does a rosbag2. The server tells :class:`Demand` which
topics its clients subscribe to; :meth:`BridgeServer.publish` hands bytes to the
channel (the SDK queues them per client and drops the oldest for a slow client, so a
slow browser never holds up the caller).
"""
from __future__ import annotations

import foxglove
from foxglove.websocket import ChannelView, Client

from clopy_dashboard.foxglove.demand import Demand
from clopy_dashboard.foxglove.schemas import MESSAGE_ENCODING, SCHEMA_ENCODING, ChannelSpec

#: messages queued per client before the oldest is dropped (the SDK's own default is 1024;
#: a few seconds of every topic at 15 fps)
BACKLOG_MESSAGES = 1024


class _Listener:
    """Client subscriptions -> Demand (called on the server's thread)."""

    def __init__(self, demand: Demand, ros_topic: dict[str, str]) -> None:
        self.demand = demand
        self.ros_topic = ros_topic

    def on_subscribe(self, client: Client, channel: ChannelView) -> None:
        topic = self.ros_topic.get(channel.topic)
        if topic is not None:
            self.demand.add(client.id, topic)

    def on_unsubscribe(self, client: Client, channel: ChannelView) -> None:
        topic = self.ros_topic.get(channel.topic)
        if topic is not None:
            self.demand.remove(client.id, topic)


class BridgeServer:
    """The server and its channels. ``names``: ROS topic -> the name Foxglove shows
    (the resolved topic name, '/control_signal')."""

    def __init__(self, specs: list[ChannelSpec], names: dict[str, str] | None = None,
                 server_name: str = 'clopy') -> None:
        self.specs = {s.topic: s for s in specs}
        self.names = {s.topic: (names or {}).get(s.topic, '/' + s.topic.lstrip('/')) for s in specs}
        self.demand = Demand()
        self.server_name = server_name
        self._context = foxglove.Context()
        self._channels: dict[str, foxglove.Channel] = {}
        self._server = None

    def start(self, host: str, port: int) -> int:
        """Create the channels and listen; returns the port (useful with port 0).
        OSError-like failures of the SDK come up as RuntimeError naming host and port."""
        for topic, spec in self.specs.items():
            schema = foxglove.Schema(name=spec.schema_name, encoding=SCHEMA_ENCODING,
                                     data=spec.schema_text.encode('utf-8'))
            self._channels[topic] = foxglove.Channel(self.names[topic], schema=schema,
                                                     message_encoding=MESSAGE_ENCODING, context=self._context,
                                                     metadata={'ros_topic': topic, 'qos': spec.qos})
        listener = _Listener(self.demand, {v: k for k, v in self.names.items()})
        try:
            self._server = foxglove.start_server(name=self.server_name, host=host, port=port,
                                                 server_listener=listener, context=self._context,
                                                 message_backlog_size=BACKLOG_MESSAGES)
        except Exception as exc:  # noqa: BLE001 - the SDK raises its own error types
            self.close()
            raise RuntimeError(f'cannot listen on {host}:{port}: {exc}') from exc
        return self._server.port

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else 0

    def publish(self, topic: str, data: bytes, log_time_ns: int) -> None:
        """Hand one message (CDR bytes as received) to the topic's channel."""
        self._channels[topic].log(data, log_time=log_time_ns)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
