"""CLoPy-ROS bringup: launch files, parameter files, the clopy command, recorder and session folders."""
