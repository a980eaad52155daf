"""CLoPy-ROS lab cockpit: the browser dashboard and the experiment manager."""
