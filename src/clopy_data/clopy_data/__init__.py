"""CLoPy-ROS session data, pure Python: session folders, bags, tables, plots, threshold simulation, analysis."""
