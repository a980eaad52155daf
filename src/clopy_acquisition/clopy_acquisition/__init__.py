"""Camera node and frame sources (Pi camera, OpenCV device, video/TIFF/HDF5 replay, synthetic cortex) for CLoPy-ROS."""
