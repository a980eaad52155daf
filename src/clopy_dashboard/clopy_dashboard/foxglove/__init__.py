"""The session's topics for Foxglove: a bridge node (``foxglove_bridge``) that serves
them over the Foxglove WebSocket protocol with their ros2msg schemas, as the CDR bytes
the publishers sent (nothing is deserialized).

- :mod:`.schemas`: which topics, their message types, ros2msg definition text and QoS;
- :mod:`.options`: the bind address and port, and the loopback rule;
- :mod:`.demand`: which topics Foxglove clients want (a ROS subscription exists only then);
- :mod:`.protocol`: the few frames of the Foxglove WebSocket protocol a check client needs;
- :mod:`.server`: the foxglove-sdk server and its channels (no rclpy);
- :mod:`.bridge_node`: the ROS node and ``main``.
"""
