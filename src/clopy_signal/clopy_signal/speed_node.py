"""Speed node: poses in, one control value per pose out as the paradigm-independent
`control_signal`. What the value is comes from the processor `speed.processor`
names (clopy_signal.control): `speed` (default: the control part's speed, px/frame
as the original, or mm/s with px_per_mm), `paw_distance` (the control part's
distance from `target_px`), or a lab's own `package.module:ClassName`."""
from __future__ import annotations

from clopy_common import qos
from clopy_common.intraprocess import hot_publisher, hot_subscription
from clopy_common.node_main import StartupError, run_node
from clopy_common.stamps import to_s
from clopy_interfaces.msg import ControlSignal, Pose
from rclpy.node import Node

from clopy_signal.control import PoseSample, ProcessorError, make_processor
from clopy_signal.speed_params import SPEED

SETTINGS = ('control_part', 'px_per_mm', 'likelihood_min', 'smoothing_frames', 'units', 'target_px')


class SpeedNode(Node):
    def __init__(self) -> None:
        super().__init__('speed')
        values = SPEED.declare(self)
        name = values['processor']
        settings = {key: values[key] for key in SETTINGS}
        try:
            self.processor = make_processor(name, settings)
        except ProcessorError as exc:
            raise StartupError(str(exc)) from exc
        self.control_part = getattr(self.processor, 'control_part', None)
        self.control_pub = hot_publisher(self, ControlSignal, qos.CONTROL_SIGNAL, qos.STREAM_QOS)
        hot_subscription(self, Pose, qos.POSE, self.on_pose, qos.STREAM_QOS)
        self.upstream_topics = (qos.POSE,)  # on stop: until the pose node has gone
        self.linger_s = 0.3   # the last frame's reliable messages reach their readers

    def on_pose(self, pose: Pose) -> None:
        parts = {name: (x, y, p) for name, x, y, p in zip(pose.body_parts, pose.x_px, pose.y_px, pose.likelihood)}
        if self.control_part is not None and self.control_part not in parts:
            self.get_logger().error(f'speed.control_part = {self.control_part!r} is not among '
                                    f'the pose body parts {list(pose.body_parts)}: stopping')
            self.exit_status, self.finished = 2, True
            return
        sample = PoseSample(to_s(pose.header.stamp), pose.frame_index, parts)
        try:
            result = self.processor.process(sample)
        except ValueError as exc:   # e.g. a stamp out of order: this pose is not used
            self.get_logger().warn(f'pose of frame {pose.frame_index} skipped: {exc}')
            reset = getattr(self.processor, 'reset', None)
            if reset is None:
                return
            reset()
            result = self.processor.process(sample)
        msg = ControlSignal()
        msg.header = pose.header
        msg.frame_index = pose.frame_index
        msg.value = float(result.value) if result.valid else 0.0
        msg.units = result.units
        msg.valid = bool(result.valid)
        if not msg.valid:   # a lab's processor may give no reason
            msg.invalid_reason = str(getattr(result, 'reason', '') or f'{type(self.processor).__name__}: invalid value')
        self.control_pub.publish(msg)


def main(args=None) -> int:
    return run_node(SpeedNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
