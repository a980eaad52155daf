"""ROI dF/F, DeepLabCut-Live pose and speed nodes for CLoPy-ROS."""
