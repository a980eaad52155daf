"""Speed node: poses in, the control point's speed out as the paradigm-independent
`control_signal` (px/frame as the original, or mm/s with px_per_mm)."""
from __future__ import annotations

from clopy_common import qos
from clopy_common.node_main import StartupError, check_overrides, describe, run_node
from clopy_interfaces.msg import ControlSignal, Pose
from rclpy.node import Node

from clopy_common.stamps import to_s
from clopy_signal.speed import SpeedEstimator

UNITS = ('px_per_frame', 'mm_per_s')


class SpeedNode(Node):
    def __init__(self) -> None:
        super().__init__('speed')
        p = self.declare_parameter
        p('control_part', 'fl_l', describe('body part whose speed is the control signal'))
        p('px_per_mm', 3.5, describe('image scale (px/mm), for mm/s'))
        p('likelihood_min', 0.0, describe('poses with a lower control-point likelihood are skipped'))
        p('smoothing_frames', 1, describe('moving average over this many speeds (1 = none)'))
        p('units', 'px_per_frame', describe('control signal units: px_per_frame | mm_per_s'))
        check_overrides(self)
        get = lambda name: self.get_parameter(name).value  # noqa: E731
        self.units = get('units')
        if self.units not in UNITS:
            raise StartupError(f'speed.units = {self.units!r}: allowed are {list(UNITS)}')
        try:
            self.estimator = SpeedEstimator(get('control_part'), get('px_per_mm'), get('likelihood_min'),
                                            get('smoothing_frames'))
        except ValueError as exc:
            raise StartupError(str(exc)) from exc
        self.control_pub = self.create_publisher(ControlSignal, qos.CONTROL_SIGNAL, qos.STREAM_QOS)
        self.create_subscription(Pose, qos.POSE, self.on_pose, qos.STREAM_QOS)

    def on_pose(self, pose: Pose) -> None:
        parts = {name: (x, y, p) for name, x, y, p in zip(pose.body_parts, pose.x_px, pose.y_px, pose.likelihood)}
        if self.estimator.control_part not in parts:
            self.get_logger().error(f'speed.control_part = {self.estimator.control_part!r} is not among '
                                    f'the pose body parts {list(pose.body_parts)}: stopping')
            self.exit_status, self.finished = 2, True
            return
        try:
            result = self.estimator.update(to_s(pose.header.stamp), pose.frame_index, parts)
        except ValueError as exc:   # e.g. a stamp out of order: this pose is not used
            self.get_logger().warn(f'pose of frame {pose.frame_index} skipped: {exc}')
            self.estimator.reset()
            result = self.estimator.update(to_s(pose.header.stamp), pose.frame_index, parts)
        msg = ControlSignal()
        msg.header = pose.header
        msg.frame_index = pose.frame_index
        value = result.px_per_frame if self.units == 'px_per_frame' else result.mm_per_s
        msg.value = value if result.valid else 0.0
        msg.units = self.units
        msg.valid = result.valid
        self.control_pub.publish(msg)


def main(args=None) -> int:
    return run_node(SpeedNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
