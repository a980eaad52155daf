"""The reward node's parameters (clopy_common.schema): declared by the node, applied by
the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy."""
from clopy_common.schema import NodeSchema, Param

_PIN = dict(min=0, max=27)   # BCM numbering of the Raspberry Pi header

REWARD = NodeSchema('reward', [
    Param('simulate', False, 'use gpiozero MockFactory pins (no hardware)'),
    Param('valve_pin', 27, 'BCM pin of the water valve', **_PIN),
    Param('fail_pin', 12, 'BCM pin of the fail signal', **_PIN),
    Param('behaviour_camera_pin', 17, 'BCM pin held high for the session (starts the behaviour camera)', **_PIN),
    Param('illumination_pin', 21, 'BCM pin held high while imaging', **_PIN),
    Param('valve_pulse_s', 0.3, 'default valve pulse', unit='s', gt=0.0, max=10.0),
    Param('fail_pulse_s', 0.5, 'default fail pulse', unit='s', gt=0.0, max=60.0),
    Param('max_valve_open_s', 1.0, 'hard limit on one valve opening', unit='s', gt=0.0, max=10.0),
    Param('max_fail_pulse_s', 5.0, 'hard limit on one fail pulse', unit='s', gt=0.0, max=60.0),
    Param('max_rewards', 500, 'valve pulses allowed per session (0 = no cap)', min=0, max=100_000),
    Param('hold_ttl_outputs', True, 'hold behaviour_camera and illumination high while running'),
])
