"""What every paradigm's launch file starts: the same executables, with the
same parameter file, that `clopy run` starts (clopy.runner.PARADIGM_NODES)."""
from __future__ import annotations

import os

from clopy.runner import PARADIGM_NODES

TASK_FILES = {'clnf_1roi': 'clnf', 'clnf_2roi': 'clnf', 'clmf': 'clmf'}


def paradigm_launch_description(paradigm: str):
    """LaunchDescription for `ros2 launch clopy <paradigm>.launch.py`.

    Arguments: params_file (default share/clopy/config/<paradigm>.yaml),
    mouse, out_dir, sim (true: synthetic camera, WAV audio, mock pins).
    The session ends when the task node finishes (all trials done), or when the
    camera, the reward node or the recorder stops (no frames, no valve, no record)."""
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
    from launch.conditions import IfCondition
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown
    from launch.substitutions import LaunchConfiguration, PythonExpression
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    share = get_package_share_directory('clopy')
    params_file = LaunchConfiguration('params_file')
    sim = LaunchConfiguration('sim')
    args = [
        DeclareLaunchArgument('params_file', default_value=os.path.join(share, 'config', f'{paradigm}.yaml')),
        DeclareLaunchArgument('mouse', default_value='mouse'),
        DeclareLaunchArgument('out_dir', default_value=os.path.join(os.path.expanduser('~'), 'clopy_sessions')),
        DeclareLaunchArgument('sim', default_value='false', choices=['true', 'false']),
    ]
    is_sim = PythonExpression(["'", sim, "' == 'true'"])
    sim_overrides = {
        'camera': {'source': 'synthetic_behaviour' if paradigm == 'clmf' else 'synthetic'},
        'pose': {'backend': 'synthetic'},
        'tone': {'backend': 'wav'},
        'reward': {'simulate': True},
    }
    nodes = []
    enders = []   # the session ends when one of these exits: no trials left, no frames, no valve, no record
    for package, executable, name in PARADIGM_NODES[paradigm]:
        params = [params_file]
        extra = {}
        if name == 'recorder':
            # as strings: launch reads a bare 1234 as an integer
            params.append({'mouse': ParameterValue(LaunchConfiguration('mouse'), value_type=str),
                           'out_dir': ParameterValue(LaunchConfiguration('out_dir'), value_type=str),
                           'param_file': ParameterValue(params_file, value_type=str),
                           'task_file': TASK_FILES[paradigm]})
            extra = {'sigterm_timeout': '15'}   # time to close the bag
        if name in sim_overrides:
            # the node twice, one of them started: as configured, or (sim:=true) simulated
            actions = [
                Node(package=package, executable=executable, name=name, output='screen', parameters=params,
                     condition=IfCondition(PythonExpression(['not ', is_sim])), **extra),
                Node(package=package, executable=executable, name=name, output='screen',
                     parameters=params + [sim_overrides[name]], condition=IfCondition(is_sim), **extra),
            ]
        else:
            actions = [Node(package=package, executable=executable, name=name, output='screen',
                            parameters=params, **extra)]
        nodes.extend(actions)
        if name in ('task', 'recorder', 'reward', 'camera'):
            enders.extend(actions)
    handlers = [RegisterEventHandler(OnProcessExit(target_action=n, on_exit=[
        EmitEvent(event=Shutdown(reason='a session node ended'))])) for n in enders]
    return LaunchDescription(args + nodes + handlers)
