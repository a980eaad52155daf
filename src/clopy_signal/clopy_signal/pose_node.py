"""Pose node: behaviour-camera frames in, every body part's position and
likelihood out on `pose` (Pose), stamped with the frame's stamp and index.

Backends (chosen explicitly, `pose.backend`; clopy_signal.pose_backends):
- `dlclive`: DeepLabCut-Live (`pip install deeplabcut-live`, an optional extra:
  see docs/clmf.md) running an exported model (`model_path`, PyTorch or
  TensorFlow), clopy_signal.dlc_backend;
- `synthetic` (package clopy_sim, found through its entry point): the ground truth
  of the synthetic behaviour camera (same seed and parameters, from the shared
  `synthetic_behaviour.*` parameters), so the graph can be tested and demonstrated
  without a model;
- any backend a lab's package registers under `clopy.pose_backends`.
"""
from __future__ import annotations

import threading
import time

from clopy_common import qos
from clopy_common.frames import FrameIndexer, frame_header, image_array
from clopy_common.intraprocess import hot_publisher, hot_subscription
from clopy_common.node_main import StartupError, run_node
from clopy_interfaces.msg import Pose
from rclpy.node import Node
from sensor_msgs.msg import Image

from clopy_signal.pose_backends import PoseBackendError, make_pose_backend
from clopy_signal.pose_params import BUILTIN_BACKENDS, POSE_SCHEMAS

CLOSE_TIMEOUT_S = 10.0     # close(): longest wait for the frame in the model


class NewestFrame:
    """One-slot hand-over from the ROS callbacks to the inference thread. A frame
    that is still waiting when a newer one arrives is replaced (and counted): a
    model slower than the camera then works on the newest frame, never on a
    queue of old ones, so its poses are at most one inference old."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._closed = False
        self.skipped = 0

    def put(self, item) -> bool:
        """Offer a frame; False when it replaced one that was never processed."""
        with self._cond:
            replaced = self._item is not None
            self.skipped += replaced
            self._item = item
            self._cond.notify()
            return not replaced

    def take(self, timeout_s: float):
        """The newest frame, or None after timeout_s or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class PoseNode(Node):
    def __init__(self) -> None:
        super().__init__('pose')
        self.finished = False
        self.exit_status = 0
        backend, values = POSE_SCHEMAS.declare(self)
        settings = {name: values[name] for name in ('model_path', 'model_type', 'device', 'resize', 'runtime')}
        settings.update(body_parts=list(values['body_parts']), logger=self.get_logger())

        def declare(name, default, text=''):   # the backend's own, declared with the schema above
            return values[name]

        try:
            self.estimate = make_pose_backend(backend, BUILTIN_BACKENDS, declare, settings)
        except PoseBackendError as exc:
            raise StartupError(str(exc)) from exc
        self.body_parts = list(self.estimate.body_parts)
        self.pose_pub = hot_publisher(self, Pose, qos.POSE, qos.STREAM_QOS)
        self.published = 0
        self._newest = NewestFrame()
        self._publish_lock = threading.Lock()
        self._closing = False
        frames = FrameIndexer(self._on_frame, self.get_logger())
        # the image carries its frame index: no hop waits for the FrameInfo of the same frame
        hot_subscription(self, Image, qos.IMAGE, frames.on_image, qos.IMAGE_QOS)
        self.upstream_topics = (qos.IMAGE,)  # on stop: until the camera has gone
        self.linger_s = 0.3   # the last frame's reliable messages reach their readers
        self._worker = threading.Thread(target=self._inference_loop, name='pose-inference', daemon=True)
        self._worker.start()
        self.get_logger().info(f'{backend} pose, {len(self.body_parts)} body parts')

    def _on_frame(self, image: Image, frame_index: int) -> None:
        if not self._newest.put((image, frame_index)) and self._newest.skipped == 1:
            self.get_logger().warn(
                f'frame {frame_index} arrived before the model finished the previous one: the model is '
                'slower than the camera, so poses are made for the newest frame and older waiting frames '
                'are skipped (counted at the end; Pose.inference_s has the model time per frame)')

    def _inference_loop(self) -> None:
        while not self.finished and not self._newest.closed:
            item = self._newest.take(0.2)
            if item is None:
                continue
            try:
                self.process(*item)
            except Exception as exc:  # noqa: BLE001 - a model failure stops the node, loudly
                self.get_logger().error(f'pose estimation failed on frame {item[1]}: {exc!r}; stopping')
                self.exit_status, self.finished = 1, True

    def process(self, image: Image, frame_index: int) -> None:
        start = time.perf_counter()
        pose = self.estimate(image_array(image), frame_index)
        elapsed = time.perf_counter() - start
        if len(pose) != len(self.body_parts):
            self.get_logger().error(f'the model gives {len(pose)} body parts but pose.body_parts names '
                                    f'{len(self.body_parts)}: stopping')
            self.exit_status, self.finished = 2, True
            return
        msg = Pose()
        msg.header = frame_header(image.header)   # the camera's frame_id, without the index
        msg.frame_index = frame_index
        msg.body_parts = self.body_parts
        msg.x_px = [float(row[0]) for row in pose]
        msg.y_px = [float(row[1]) for row in pose]
        msg.likelihood = [float(row[2]) for row in pose]
        msg.inference_s = elapsed
        with self._publish_lock:
            if self._closing:       # close() gave up waiting: the node is going away
                return
            self.pose_pub.publish(msg)
            self.published += 1

    def close(self) -> None:
        """Let the pose being made finish and be published, then report."""
        self._newest.close()
        self._worker.join(timeout=CLOSE_TIMEOUT_S)
        with self._publish_lock:
            self._closing = True
        if self._worker.is_alive():
            self.get_logger().warn(f'the model was still working on a frame after {CLOSE_TIMEOUT_S:g} s; '
                                   'its pose is not published')
        self.get_logger().info(f'{self.published} poses published, {self._newest.skipped} frames skipped '
                               '(arrived while the model was busy with an earlier frame)')


def main(args=None) -> int:
    return run_node(PoseNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
