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
MODEL_TYPES = ('pytorch', 'base', 'tensorrt', 'lite')   # dlclive: PyTorch, or TensorFlow engines
DEVICES = ('cpu', 'cuda', 'mps')


class DlcLiveBackend:
    """DeepLabCut-Live on each frame: (n_parts, 3) array of x, y, likelihood."""

    def __init__(self, model_path: str, model_type: str, device: str, logger) -> None:
        from pathlib import Path

        from clopy_signal.dlc_import import import_dlclive
        if model_type not in MODEL_TYPES:
            raise StartupError(f'pose.model_type = {model_type!r}: allowed are {list(MODEL_TYPES)} '
                               '(pytorch: a DeepLabCut 3 .pt export; the others: a TensorFlow export folder)')
        if model_type == 'pytorch' and device.split(':')[0] not in DEVICES:
            raise StartupError(f'pose.device = {device!r}: allowed are cpu, cuda, cuda:N, mps')
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
        if model_type == 'pytorch':
            kwargs['device'] = device
        try:
            self.dlc = dlclive_class(str(path), **kwargs)
        except Exception as exc:  # noqa: BLE001 - dlclive raises many kinds
            raise StartupError(f'pose.model_path = {model_path!r}: dlclive cannot load it ({exc})') from exc
        self.initialised = False

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


class PoseNode(Node):
    def __init__(self) -> None:
        super().__init__('pose')
        p = self.declare_parameter
        p('backend', 'dlclive', describe(f'pose backend: {", ".join(BACKENDS)}'))
        p('model_path', '', describe('exported DeepLabCut model (dlclive backend)'))
        p('model_type', 'pytorch', describe('pytorch | base (TensorFlow)'))
        p('device', 'cpu', describe('pytorch device: cpu | cuda'))
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
                                           self.get_parameter('device').value, self.get_logger())
        else:
            raise StartupError(f'pose.backend = {backend!r}: allowed are {list(BACKENDS)}')
        self.pose_pub = self.create_publisher(Pose, qos.POSE, qos.STREAM_QOS)
        pairer = FramePairer(self.process, self.get_logger())
        self.create_subscription(FrameInfo, qos.FRAME_INFO, pairer.on_info, qos.STREAM_QOS)
        self.create_subscription(Image, qos.IMAGE, pairer.on_image, qos.IMAGE_QOS)
        self.get_logger().info(f'{backend} pose, {len(self.body_parts)} body parts')

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
        self.pose_pub.publish(msg)


def main(args=None) -> int:
    return run_node(PoseNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
