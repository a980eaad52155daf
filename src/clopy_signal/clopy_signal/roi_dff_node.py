"""ROI dF/F node: camera frames in, per-ROI dF/F0 (`roi_signal`) and the rule's
value as the paradigm-independent `control_signal` out.

Frames arrive as sensor_msgs/Image on `image_raw`, each carrying its frame index
(clopy_common.frames): every output carries the frame's stamp and index, and no frame
waits for a second message. Frames are processed in arrival order.
A frame whose signal cannot be trusted (blank or saturated, F0 below
`min_f0`, non-finite, a rule dividing by zero) gives an invalid control signal
with its `invalid_reason` (clopy_signal.quality): the task never rewards it.
"""
from __future__ import annotations

from clopy_common import qos
from clopy_common.frames import FrameIndexer, frame_header, image_array
from clopy_common.intraprocess import hot_publisher, hot_subscription
from clopy_common.node_main import StartupError, run_node
from clopy_interfaces.msg import ControlSignal, RoiSignal
from rclpy.node import Node
from sensor_msgs.msg import Image

from clopy_signal.dff import DffEstimator, history_frames_for
from clopy_signal.quality import SignalGuard, frame_level_problem
from clopy_signal.roi import ConfigError, rois_from_config
from clopy_signal.roi_dff_params import ROI_DFF
from clopy_signal.rule import Rule

class RoiDffNode(Node):
    def __init__(self) -> None:
        super().__init__('roi_dff')
        values = ROI_DFF.declare(self)

        def get(name):
            return values[name]

        try:
            self.rois = rois_from_config(list(get('rois')), get('frame_height_px'), get('frame_width_px'),
                                         get('bregma_row_px'), get('bregma_col_px'), get('px_per_mm'),
                                         get('roi_size_mm'))
            names = [r.name for r in self.rois]
            rule_text = get('rule') or (names[0] if len(names) == 1 else '')
            if not rule_text:
                raise ConfigError(f'roi_dff.rule is empty but there are {len(names)} ROIs {names}: '
                                  "give a rule such as 'BC_L-BC_R'")
            self.rule = Rule(rule_text, names)
            history = history_frames_for(get('dff_history_s'), get('frame_rate_hz'))
            self.estimator = DffEstimator(self.rois, history, get('correction'))
            self.guard = SignalGuard(names, self.rule, get('min_f0'), history)
        except (ConfigError, ValueError) as exc:
            raise StartupError(str(exc)) from exc
        self.names = names
        self.frame_shape = (get('frame_height_px'), get('frame_width_px'))

        # composed: published once the frame's closed loop has run (LocalBus)
        self.roi_pub = hot_publisher(self, RoiSignal, qos.ROI_SIGNAL, qos.STREAM_QOS)
        self.control_pub = hot_publisher(self, ControlSignal, qos.CONTROL_SIGNAL, qos.STREAM_QOS)
        frames = FrameIndexer(self.process, self.get_logger())
        # the image carries its frame index: no hop waits for the FrameInfo of the same frame
        hot_subscription(self, Image, qos.IMAGE, frames.on_image, qos.IMAGE_QOS)
        self.upstream_topics = (qos.IMAGE,)  # on stop: until the camera has gone
        self.linger_s = 0.3   # the last frame's reliable messages reach their readers
        self.get_logger().info(
            f'ROIs {", ".join(f"{r.name} {r.box_str()}" for r in self.rois)}; rule {self.rule.expression}; '
            f'F0 over {history} frames; correction {self.estimator.correction}')

    def process(self, image: Image, frame_index: int) -> None:
        frame = image_array(image)
        if frame.shape[:2] != self.frame_shape:
            self.get_logger().error(
                f'frame {frame_index} is {frame.shape[1]}x{frame.shape[0]} px but roi_dff.frame_width_px x '
                f'frame_height_px is {self.frame_shape[1]}x{self.frame_shape[0]}: stopping')
            self.exit_status = 2
            self.finished = True
            return
        problem = frame_level_problem(frame)
        filled = self.estimator.frames_in_history
        result = self.estimator.update(frame, add_to_baseline=not problem)
        checked, rule_value, log_once = self.guard.check(result, problem, filled)
        if log_once:
            self.get_logger().warning(f'frame {frame_index}: {log_once}')
        valid = checked.valid

        header = frame_header(image.header)   # the camera's frame_id, without the index
        roi = RoiSignal()
        roi.header = header
        roi.frame_index = frame_index
        roi.roi_names = self.names
        roi.dff = result.values.tolist()
        roi.rule = self.rule.expression
        roi.rule_value = rule_value
        roi.valid = valid
        control = ControlSignal()
        control.header = header
        control.frame_index = frame_index
        control.value = checked.value
        control.units = 'dff'
        control.valid = valid
        control.invalid_reason = checked.reason
        # control first: it is what the task reacts to
        self.control_pub.publish(control)
        self.roi_pub.publish(roi)


def main(args=None) -> int:
    return run_node(RoiDffNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
