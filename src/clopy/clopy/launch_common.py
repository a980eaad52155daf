"""What every paradigm's launch file starts: the same executables, with the
same parameter file, that `clopy run` starts (clopy.runner.PARADIGM_NODES)."""
from __future__ import annotations

import os

from clopy.runner import PARADIGM_NODES


def paradigm_launch_description(paradigm: str):
    """LaunchDescription for `ros2 launch clopy <paradigm>.launch.py`.

    Arguments: params_file (default share/clopy/config/<paradigm>.yaml),
    mouse, out_dir, sim (true: synthetic camera, WAV audio, mock pins).
    The session ends when the task node finishes (all trials done)."""
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
    from launch.conditions import IfCondition
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown
    from launch.substitutions import LaunchConfiguration, PythonExpression
    from launch_ros.actions import Node

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
    task = None
    for package, executable, name in PARADIGM_NODES[paradigm]:
        params = [params_file]
        if name == 'recorder':
            params.append({'mouse': LaunchConfiguration('mouse'), 'out_dir': LaunchConfiguration('out_dir'),
                           'param_file': params_file})
        node = Node(package=package, executable=executable, name=name, parameters=params, output='screen')
        nodes.append(node)
        if name == 'task':
            task = node
        if name in sim_overrides:
            # the same node again, only when sim:=true, with the simulation backend
            nodes[-1] = Node(package=package, executable=executable, name=name, output='screen',
                             parameters=params, condition=IfCondition(PythonExpression(['not ', is_sim])))
            nodes.append(Node(package=package, executable=executable, name=name, output='screen',
                              parameters=params + [sim_overrides[name]], condition=IfCondition(is_sim)))
    end = RegisterEventHandler(OnProcessExit(target_action=task, on_exit=[EmitEvent(event=Shutdown(reason='task finished'))]))
    return LaunchDescription(args + nodes + [end])
