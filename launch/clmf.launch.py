"""ros2 launch clopy clmf.launch.py [mouse:=ID] [sim:=true] [params_file:=...] [out_dir:=...]

Starts camera, pose, speed, task, tone, reward and recorder with config/clmf.yaml.
"""
from clopy.launch_common import paradigm_launch_description


def generate_launch_description():
    return paradigm_launch_description('clmf')
