"""``foxglove_bridge``: the session's topics on a Foxglove WebSocket server
(``ros2 run clopy_dashboard foxglove_bridge``; ``clopy run --foxglove`` starts it).

Each topic is read raw (``raw=True``: the CDR bytes as published, never deserialized)
with its publisher's QoS and passed to the Foxglove channel of the same name. A ROS
subscription exists only while a Foxglove client subscribes to the topic, so a session
nobody watches sends nothing to this process; a transient-local topic subscribed
mid-session first delivers the writer's history (events so far, the latest status).
"""
from __future__ import annotations

import os
import sys
import time

from rclpy.node import Node

from clopy.replay import message_class
from clopy_common import qos
from clopy_common.node_main import StartupError, run_node
from clopy_common.realtime import lower_for_viewer

from clopy_dashboard.foxglove.options import PORT_ENV, BindError, check_bind
from clopy_dashboard.foxglove.params import FOXGLOVE
from clopy_dashboard.foxglove.schemas import channel_specs
from clopy_dashboard.foxglove.server import BridgeServer

#: how often the node follows the clients' subscriptions (s)
DEMAND_PERIOD_S = 0.1


class FoxgloveBridgeNode(Node):
    def __init__(self) -> None:
        super().__init__('foxglove')
        values = FOXGLOVE.declare(self)
        host, port = values['host'], values['port']
        try:
            check_bind(host, port)
        except BindError as exc:
            raise StartupError(str(exc)) from None
        try:
            specs = channel_specs(list(values['topics']) or None)
        except ValueError as exc:
            raise StartupError(f'foxglove.{exc}') from None
        self.specs = {s.topic: s for s in specs}
        self.server = BridgeServer(specs, {s.topic: self.resolve_topic_name(s.topic) for s in specs})
        try:
            self.port = self.server.start(host, port)
        except RuntimeError as exc:
            raise StartupError(f'foxglove.port = {port}: {exc}; allowed: a free port (0: any free port)') from None
        self.subscriptions_by_topic: dict[str, object] = {}
        self._seen_version = -1
        self.create_timer(DEMAND_PERIOD_S, self.follow_demand)
        self.get_logger().info(f'foxglove ws://{host}:{self.port}: {len(specs)} topics, ros2msg schemas, cdr')

    def follow_demand(self) -> None:
        """One ROS subscription for each topic some client subscribes to, none for the rest."""
        version = self.server.demand.version
        if version == self._seen_version:
            return
        self._seen_version = version
        wanted = self.server.demand.wanted()
        for topic in sorted(wanted - set(self.subscriptions_by_topic)):
            spec = self.specs[topic]
            self.subscriptions_by_topic[topic] = self.create_subscription(
                message_class(spec.msgtype), topic, self._forwarder(topic), getattr(qos, spec.qos), raw=True)
        for topic in sorted(set(self.subscriptions_by_topic) - wanted):
            self.destroy_subscription(self.subscriptions_by_topic.pop(topic))

    def _forwarder(self, topic: str):
        publish = self.server.publish

        def forward(data: bytes) -> None:
            publish(topic, data, time.time_ns())
        return forward

    def close(self) -> None:
        self.server.close()


def ros_args(argv: list[str], environ=os.environ) -> list[str]:
    """The process arguments, plus the port `clopy run --foxglove-port` hands over in the
    environment (a command-line parameter: it wins over the parameter file)."""
    port = environ.get(PORT_ENV, '').strip()
    return list(argv) + (['--ros-args', '-p', f'port:={port}'] if port else [])


def main(args=None) -> int:
    lower_for_viewer()   # a viewer yields the CPU to the closed loop
    return run_node(FoxgloveBridgeNode, ros_args(sys.argv if args is None else args))


if __name__ == '__main__':
    sys.exit(main())
