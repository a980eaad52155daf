"""CLoPy-ROS simulation backends: synthetic cortex, synthetic behaviour, learning mouse."""
