"""The bridge node's parameters (clopy_common.schema). Plain Python, no rclpy."""
from __future__ import annotations

from clopy_common.schema import NodeSchema, Param

from clopy_dashboard.foxglove.options import DEFAULT_HOST, DEFAULT_PORT

FOXGLOVE = NodeSchema('foxglove', [
    Param('host', DEFAULT_HOST, 'loopback address the WebSocket server listens on (127.0.0.1, ::1 or localhost: '
          'the Foxglove WebSocket protocol has no authentication; use an SSH tunnel from another computer)'),
    Param('port', DEFAULT_PORT, 'TCP port of the WebSocket server (0: any free port, logged)', min=0, max=65535),
    Param('topics', [], 'topics to serve (empty: every recorded topic, clopy_data.topics.TOPICS)', type='str[]'),
])
