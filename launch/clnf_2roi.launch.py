"""ros2 launch clopy clnf_2roi.launch.py [mouse:=ID] [sim:=true] [params_file:=...] [out_dir:=...]

Starts camera, roi_dff, task, tone, reward and recorder with config/clnf_2roi.yaml.
"""
from clopy.launch_common import paradigm_launch_description


def generate_launch_description():
    return paradigm_launch_description('clnf_2roi')
