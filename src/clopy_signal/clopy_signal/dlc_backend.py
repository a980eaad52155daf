"""DeepLabCut-Live as the pose node's ``dlclive`` backend: loading an exported model
with every check done at start-up (model type, device, resize factor, the file or
folder, that dlclive imports, that the model's body parts are the configured ones),
each failure naming the ``pose.*`` key. Also used by ``clopy pose-model`` and
scripts/bench_pose.py. Plain Python (no rclpy); dlclive and torch are imported only
when a model is loaded.
"""
from __future__ import annotations

import re

from clopy_signal.pose_backends import PoseBackendError

MODEL_TYPES = ('pytorch', 'base', 'tensorflow', 'tensorrt', 'lite')   # dlclive: PyTorch, or TensorFlow engines
DEVICE_RE = re.compile(r'cpu|auto|mps|cuda(:\d+)?')    # pose.device (PyTorch)
RUNTIMES = ('torch', 'onnxruntime')   # pose.runtime: what runs a PyTorch model's network (dlc_onnx)


def load_dlclive(model_type: str = 'pytorch'):
    """Import DeepLabCut-Live (with the torchvision step of clopy_signal.dlc_import)
    and, for PyTorch, register this project's backbones (``clopy pose-model synthetic``
    exports use one). Returns (the DLCLive class, a note on torchvision).

    Raises:
        PoseBackendError: dlclive does not import; the message says how to install it.
    """
    from clopy_signal.dlc_import import import_dlclive
    try:
        dlclive_class, note = import_dlclive(model_type)
        if model_type == 'pytorch':
            from clopy_signal.dlc_models import register_backbones
            register_backbones()
    except ImportError as exc:
        raise PoseBackendError(
            f'pose.backend = dlclive, but DeepLabCut-Live does not import ({exc}); install the '
            'extra with `./clopy.sh setup --dlc` (docs/clmf.md) or run with --sim (synthetic pose)') from exc
    return dlclive_class, note


class DlcLiveBackend:
    """DeepLabCut-Live on each frame: (n_parts, 3) array of x, y, likelihood.

    A PyTorch export is loaded here, at start-up (dlclive would load it on the first
    frame), so a bad file, device or body-part list stops the node before the session
    starts, with the setting named."""

    def __init__(self, model_path: str, model_type: str, device: str, resize: float,
                 body_parts: list[str], logger, runtime: str = 'torch') -> None:
        from pathlib import Path

        if model_type not in MODEL_TYPES:
            raise PoseBackendError(f'pose.model_type = {model_type!r}: allowed are {list(MODEL_TYPES)} '
                                   '(pytorch: a DeepLabCut 3 .pt export; the others: a TensorFlow export folder)')
        if model_type == 'pytorch' and not DEVICE_RE.fullmatch(device):
            raise PoseBackendError(f'pose.device = {device!r}: allowed are cpu, cuda, cuda:N, mps, auto')
        check_runtime(runtime, model_type, device)
        if not 0 < resize <= 1:
            raise PoseBackendError(f'pose.resize = {resize!r}: allowed is a factor in (0, 1] (0.5 halves width and '
                                   'height before the model; poses come back in the frame\'s pixels)')
        self.body_parts = list(body_parts)
        path = Path(model_path).expanduser()
        if model_type == 'pytorch' and not path.is_file():
            raise PoseBackendError(f'pose.model_path = {model_path!r}: no such file (a PyTorch export is one .pt file)')
        if model_type != 'pytorch' and not path.is_dir():
            raise PoseBackendError(f'pose.model_path = {model_path!r}: no such folder (a TensorFlow export is the '
                                   'exported model folder)')
        dlclive_class, note = load_dlclive(model_type)
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
                raise PoseBackendError(f'pose.device = {device!r}, but this torch ({torch.__version__}) sees no CUDA '
                                       'GPU; allowed here: cpu')
        try:
            self.dlc = dlclive_class(str(path), **kwargs)
            if model_type == 'pytorch':
                self.dlc.runner.load_model()
        except Exception as exc:  # noqa: BLE001 - dlclive and torch raise many kinds
            raise PoseBackendError(f'pose.model_path = {model_path!r}: dlclive cannot load it '
                                   f'({type(exc).__name__}: {exc})') from exc
        self.initialised = model_type == 'pytorch'   # TensorFlow engines load on the first frame
        if model_type == 'pytorch':
            model_parts = list(self.dlc.runner.cfg.get('metadata', {}).get('bodyparts', []))
            if model_parts and model_parts != list(body_parts):
                raise PoseBackendError(f'pose.body_parts = {list(body_parts)}, but the model {model_path!r} gives '
                                       f'{model_parts}: set pose.body_parts to the model\'s parts, in its order')
        if runtime != 'torch':   # after every other check: the export takes seconds
            self.dlc.runner.model = onnx_network(self.dlc.runner.model, path, logger, runtime)

    def __call__(self, frame, frame_index: int):
        if not self.initialised:
            self.initialised = True
            return self.dlc.init_inference(frame)
        return self.dlc.get_pose(frame)

    @classmethod
    def from_pose_node(cls, declare, settings: dict) -> 'DlcLiveBackend':
        """The pose node's constructor hook (model_path, model_type, device, resize, runtime,
        body_parts and logger from its settings)."""
        if not settings['model_path']:
            raise PoseBackendError('pose.model_path is empty: give the exported DeepLabCut model')
        return cls(settings['model_path'], settings['model_type'], settings['device'], float(settings['resize']),
                   settings['body_parts'], settings['logger'], runtime=settings.get('runtime', 'torch'))


def check_runtime(runtime: str, model_type: str, device: str) -> None:
    """pose.runtime against the other settings (PoseBackendError names the key)."""
    if runtime not in RUNTIMES:
        raise PoseBackendError(f'pose.runtime = {runtime!r}: allowed are {list(RUNTIMES)} (torch: dlclive as it '
                               'is; onnxruntime: the network exported to ONNX and run by ONNX Runtime on '
                               'the CPU)')
    if runtime != 'torch' and model_type != 'pytorch':
        raise PoseBackendError(f'pose.runtime = {runtime} needs pose.model_type = pytorch (a DeepLabCut 3 .pt '
                               f'export), not {model_type!r}; allowed with {model_type!r}: pose.runtime = torch')
    if runtime != 'torch' and device not in ('cpu', 'auto'):
        raise PoseBackendError(f'pose.runtime = {runtime} runs on the CPU, but pose.device = {device!r}: set '
                               'pose.device = cpu, or pose.runtime = torch for a GPU')


def onnx_network(model, path, logger, runtime: str):
    """dlclive's torch network swapped for its ONNX export run by ``runtime``
    (clopy_signal.dlc_onnx); PoseBackendError names pose.runtime when that fails."""
    import importlib
    try:
        importlib.import_module(runtime)   # only to say how to install it
        from clopy_signal.dlc_onnx import OnnxPoseNetwork
    except ImportError as exc:
        raise PoseBackendError(f'pose.runtime = {runtime}, but it does not import ({exc}); install the extra '
                               'with `./clopy.sh setup --dlc` (requirements/dlc.txt) or set pose.runtime = torch'
                               ) from exc
    try:
        return OnnxPoseNetwork.from_torch(model, path, logger, runtime=runtime)
    except Exception as exc:  # noqa: BLE001 - the exporter and the runtimes raise many kinds
        raise PoseBackendError(f'pose.runtime = {runtime}: the network of pose.model_path = {str(path)!r} cannot be '
                               f'exported or run ({type(exc).__name__}: {exc}); set pose.runtime = torch') from exc
