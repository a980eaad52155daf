"""CLoPy-ROS task engine, task library and packaged task files (pure Python, no rclpy).

clopy_task.engine   TaskEngine (runs a task file; process_frame live, run_signal offline)
clopy_task.api      what task files import: ``from clopy_task.api import *``
clopy_task.library  what the CLNF and CLMF tasks share
clopy_task.files    resolve_task_file, packaged_task
clopy_task.tones    ToneMapper; clopy_task.threshold: ThresholdAdapter
"""
