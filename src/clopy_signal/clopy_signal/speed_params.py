"""The speed node's parameters (clopy_common.schema): declared by the node, applied by
the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy."""
from clopy_common.schema import NodeSchema, Param

from clopy_signal.control import BUILTIN_PROCESSORS, SPEED_UNITS

SPEED = NodeSchema('speed', [
    Param('processor', 'speed', f'pose -> control value: {", ".join(BUILTIN_PROCESSORS)} or '
          'package.module:ClassName (docs/clmf.md)'),
    Param('control_part', 'fl_l', 'body part whose speed is the control signal'),
    Param('px_per_mm', 3.5, 'image scale, for mm/s', unit='px/mm', gt=0.0, max=10000.0),
    Param('likelihood_min', 0.0, 'poses with a lower control-point likelihood are skipped', min=0.0, max=1.0),
    Param('smoothing_frames', 1, 'moving average over this many speeds (1 = none)', unit='frames',
          min=1, max=10000),
    Param('units', 'px_per_frame', 'speed processor units', choices=SPEED_UNITS),
    Param('target_px', [0.0, 0.0], 'paw_distance processor: the target point [x, y]', unit='px'),
])
