"""Helpers shared by every CLoPy-ROS node: topic names, QoS profiles, stamps."""
