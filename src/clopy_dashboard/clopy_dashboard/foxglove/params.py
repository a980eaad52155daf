"""The bridge node's parameters (clopy_common.schema). Plain Python, no rclpy."""
from __future__ import annotations

from clopy_common.schema import NodeSchema, Param

from clopy_dashboard.foxglove.options import DEFAULT_HOST, DEFAULT_PORT

FOXGLOVE = NodeSchema('foxglove', [
    Param('host', DEFAULT_HOST, 'address the WebSocket server listens on; anything but loopback needs '
          'allow_remote (the Foxglove WebSocket protocol has no authentication)'),
    Param('port', DEFAULT_PORT, 'TCP port of the WebSocket server (0: any free port, logged)', min=0, max=65535),
    Param('allow_remote', False, 'allow a host other than loopback (prints a warning: no authentication)'),
    Param('topics', [], 'topics to serve (empty: every recorded topic, clopy_data.topics.TOPICS)', type='str[]'),
])
