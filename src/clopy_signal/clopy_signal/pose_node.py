"""Pose node: behaviour-camera frames in, every body part's position and
likelihood out on `pose` (Pose), stamped with the frame's stamp and index.

Backends (chosen explicitly):
- `dlclive`: DeepLabCut-Live (`pip install deeplabcut-live`, an optional extra:
  see docs/clmf.md) running an exported model (`model_path`, PyTorch or
  TensorFlow);
- `synthetic`: the ground truth of the synthetic behaviour camera (same seed
  and parameters, from the shared `synthetic_behaviour.*` parameters), so the
  graph can be tested and demonstrated without a model.
"""
from __future__ import annotations

import re
import threading
import time

from clopy_common import qos
from clopy_common.frames import FramePairer, image_array
from clopy_common.node_main import StartupError, check_overrides, describe, run_node
from clopy_interfaces.msg import FrameInfo, Pose
from rclpy.node import Node
from sensor_msgs.msg import Image

from clopy_acquisition.camera_node import synthetic_behaviour_params
from clopy_signal.speed import BODY_PARTS

BACKENDS = ('dlclive', 'synthetic')
MODEL_TYPES = ('pytorch', 'base', 'tensorflow', 'tensorrt', 'lite')   # dlclive: PyTorch, or TensorFlow engines
CLOSE_TIMEOUT_S = 10.0     # close(): longest wait for the frame in the model
DEVICE_RE = re.compile(r'cpu|auto|mps|cuda(:\d+)?')    # pose.device (PyTorch)


class DlcLiveBackend:
    """DeepLabCut-Live on each frame: (n_parts, 3) array of x, y, likelihood.

    A PyTorch export is loaded here, at start-up (dlclive would load it on the first
    frame), so a bad file, device or body-part list stops the node before the session
    starts, with the setting named."""

    def __init__(self, model_path: str, model_type: str, device: str, resize: float,
                 body_parts: list[str], logger) -> None:
        from pathlib import Path

        from clopy_signal.dlc_import import import_dlclive
        if model_type not in MODEL_TYPES:
            raise StartupError(f'pose.model_type = {model_type!r}: allowed are {list(MODEL_TYPES)} '
                               '(pytorch: a DeepLabCut 3 .pt export; the others: a TensorFlow export folder)')
        if model_type == 'pytorch' and not DEVICE_RE.fullmatch(device):
            raise StartupError(f'pose.device = {device!r}: allowed are cpu, cuda, cuda:N, mps, auto')
        if not 0 < resize <= 1:
            raise StartupError(f'pose.resize = {resize!r}: allowed is a factor in (0, 1] (0.5 halves width and '
                               'height before the model; poses come back in the frame\'s pixels)')
        path = Path(model_path).expanduser()
        if model_type == 'pytorch' and not path.is_file():
            raise StartupError(f'pose.model_path = {model_path!r}: no such file (a PyTorch export is one .pt file)')
        if model_type != 'pytorch' and not path.is_dir():
            raise StartupError(f'pose.model_path = {model_path!r}: no such folder (a TensorFlow export is the '
                               'exported model folder)')
        try:
            dlclive_class, note = import_dlclive(model_type)
            if model_type == 'pytorch':
                from clopy_signal.dlc_models import register_backbones
                register_backbones()   # `clopy pose-model synthetic` exports use it
        except ImportError as exc:
            raise StartupError(
                f'pose.backend = dlclive, but DeepLabCut-Live does not import ({exc}); install the '
                'extra with `./clopy setup --dlc` (docs/clmf.md) or run with --sim (synthetic pose)') from exc
        if note == 'operators declared':
            logger.warning('torchvision\'s compiled operators do not load next to this torch (a CUDA '
                           'torchvision with a CPU torch); bottom-up models run, detector-based '
                           '(top-down) models need a matching torch/torchvision pair')
        kwargs = {'model_type': model_type}
        if resize != 1:
            kwargs['resize'] = resize
        if model_type == 'pytorch':
            kwargs['device'] = device
            import torch
            if device.startswith('cuda') and not torch.cuda.is_available():
                raise StartupError(f'pose.device = {device!r}, but this torch ({torch.__version__}) sees no CUDA '
                                   'GPU; allowed here: cpu')
        try:
            self.dlc = dlclive_class(str(path), **kwargs)
            if model_type == 'pytorch':
                self.dlc.runner.load_model()
        except Exception as exc:  # noqa: BLE001 - dlclive and torch raise many kinds
            raise StartupError(f'pose.model_path = {model_path!r}: dlclive cannot load it '
                               f'({type(exc).__name__}: {exc})') from exc
        self.initialised = model_type == 'pytorch'   # TensorFlow engines load on the first frame
        if model_type == 'pytorch':
            model_parts = list(self.dlc.runner.cfg.get('metadata', {}).get('bodyparts', []))
            if model_parts and model_parts != list(body_parts):
                raise StartupError(f'pose.body_parts = {list(body_parts)}, but the model {model_path!r} gives '
                                   f'{model_parts}: set pose.body_parts to the model\'s parts, in its order')

    def __call__(self, frame, frame_index: int):
        if not self.initialised:
            self.initialised = True
            return self.dlc.init_inference(frame)
        return self.dlc.get_pose(frame)


class SyntheticBackend:
    """Ground truth of the synthetic behaviour camera for the frame's index."""

    def __init__(self, params: dict) -> None:
        from clopy_acquisition.synthetic_behaviour import SyntheticBehaviourSource
        try:
            self.source = SyntheticBehaviourSource(**params)
        except (ValueError, TypeError) as exc:
            raise StartupError(f'synthetic_behaviour: {exc}') from exc

    def __call__(self, frame, frame_index: int):
        truth = self.source.ground_truth(frame_index)
        return [(*truth[part], 1.0) for part in BODY_PARTS]


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
        p = self.declare_parameter
        p('backend', 'dlclive', describe(f'pose backend: {", ".join(BACKENDS)}'))
        p('model_path', '', describe('exported DeepLabCut model (dlclive backend)'))
        p('model_type', 'pytorch', describe('pytorch | base (TensorFlow)'))
        p('device', 'cpu', describe('pytorch device: cpu | cuda'))
        p('resize', 1.0, describe('dlclive: scale frames by this factor (0, 1] before the model; poses '
                                  'are given in the frame\'s pixels'))
        p('body_parts', list(BODY_PARTS), describe('body-part names, in the model\'s order'))
        backend = self.get_parameter('backend').value
        self.body_parts = list(self.get_parameter('body_parts').value)
        synthetic = synthetic_behaviour_params(self)
        check_overrides(self)
        if backend == 'synthetic':
            self.estimate = SyntheticBackend(synthetic)
            self.body_parts = list(BODY_PARTS)
        elif backend == 'dlclive':
            model = self.get_parameter('model_path').value
            if not model:
                raise StartupError('pose.model_path is empty: give the exported DeepLabCut model')
            self.estimate = DlcLiveBackend(model, self.get_parameter('model_type').value,
                                           self.get_parameter('device').value,
                                           float(self.get_parameter('resize').value), self.body_parts,
                                           self.get_logger())
        else:
            raise StartupError(f'pose.backend = {backend!r}: allowed are {list(BACKENDS)}')
        self.pose_pub = self.create_publisher(Pose, qos.POSE, qos.STREAM_QOS)
        self.published = 0
        self._newest = NewestFrame()
        self._publish_lock = threading.Lock()
        self._closing = False
        pairer = FramePairer(self._on_frame, self.get_logger())
        self.create_subscription(FrameInfo, qos.FRAME_INFO, pairer.on_info, qos.STREAM_QOS)
        self.create_subscription(Image, qos.IMAGE, pairer.on_image, qos.IMAGE_QOS)
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
        msg.header = image.header
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
