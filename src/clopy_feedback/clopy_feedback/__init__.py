"""Task node (pyControl-style state machine) and tone node for CLoPy-ROS."""
