"""CLoPy-ROS task engine, task library and packaged task files (pure Python)."""
