"""The network of a DeepLabCut-Live PyTorch model run from its ONNX export by ONNX Runtime
(``pose.runtime: onnxruntime``): faster than torch eager on a CPU, same poses.

Only the network's forward pass moves: dlclive keeps its own pre-processing (resize,
RGB, scaling, normalisation) and its own heads' predictors (heatmap and
location refinement -> x, y, likelihood). :class:`OnnxPoseNetwork` stands in for the
torch ``PoseModel`` in dlclive's runner: called with the input batch it returns the
heads' outputs as the torch model would (a dict per head of named tensors), and
``get_predictions`` is the torch model's own.

The ONNX file is exported once per model file and kept in a cache folder
(:func:`onnx_cache_dir`), named by the SHA-256 of the model file and the torch version
that exported it, so a changed model is exported anew and an unchanged one is reused.
The image height and width are dynamic in the exported graph (any frame size, any
``pose.resize``). Plain Python (no rclpy); torch and onnxruntime are imported when used.
(OpenVINO was measured too, slower than ONNX Runtime here, and it sends usage telemetry
to the network when it reads a model: not used.)
"""
from __future__ import annotations

import hashlib
import os
import time
import warnings
from pathlib import Path

OPSET = 17                 # ONNX opset of the export (onnxruntime >= 1.14, OpenVINO >= 2023 run it)
_EXAMPLE_HW_PX = (160, 320)  # the traced example input; height and width stay dynamic


def onnx_cache_dir() -> Path:
    """Where exported networks are kept: $CLOPY_ONNX_CACHE, else
    $XDG_CACHE_HOME/clopy/onnx (~/.cache/clopy/onnx)."""
    if os.environ.get('CLOPY_ONNX_CACHE'):
        return Path(os.environ['CLOPY_ONNX_CACHE']).expanduser()
    return Path(os.environ.get('XDG_CACHE_HOME') or '~/.cache').expanduser() / 'clopy' / 'onnx'


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def output_names(model, example) -> list[tuple[str, str]]:
    """(head, output) pairs of the torch model's outputs, in a fixed order."""
    import torch
    with torch.inference_mode():
        outputs = model(example)
    return [(head, name) for head in sorted(outputs) for name in sorted(outputs[head])]


def export_onnx(model, onnx_path: Path, names: list[tuple[str, str]], example) -> None:
    """Write the torch model's forward pass to ``onnx_path`` (through a temporary file,
    renamed when complete, so a reader never sees half a file)."""
    import torch

    class FlatOutputs(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            outputs = self.inner(x)
            return tuple(outputs[head][name] for head, name in names)

    out_names = [f'{head}.{name}' for head, name in names]
    dynamic = {'image': {0: 'batch', 2: 'height', 3: 'width'}}
    dynamic.update({n: {0: 'batch', 2: 'out_height', 3: 'out_width'} for n in out_names})
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    partial = onnx_path.with_name(f'{onnx_path.name}.{os.getpid()}.partial')
    try:
        # torch's TorchScript-based exporter (dynamo=False): it needs only the onnx package
        # and keeps height and width dynamic; torch 2.13 says it is deprecated (quietened here)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            torch.onnx.export(FlatOutputs(model).eval(), (example,), str(partial), dynamo=False,
                              input_names=['image'], output_names=out_names, dynamic_axes=dynamic,
                              opset_version=OPSET)
        os.replace(partial, onnx_path)
    finally:
        partial.unlink(missing_ok=True)


class OnnxPoseNetwork:
    """dlclive's pose network, run from its ONNX export by ``runtime`` (onnxruntime: an
    InferenceSession on the CPU): called like
    the torch PoseModel (a (N, 3, H, W) float tensor in, {head: {output: tensor}} out);
    ``get_predictions`` is the torch model's (dlclive's predictors, unchanged)."""

    def __init__(self, model, onnx_path: Path, names: list[tuple[str, str]], runtime: str = 'onnxruntime') -> None:
        self.model = model
        self.names = names
        self.onnx_path = onnx_path
        self.runtime = runtime
        if runtime == 'onnxruntime':
            import onnxruntime
            options = onnxruntime.SessionOptions()
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = onnxruntime.InferenceSession(str(onnx_path), options, providers=['CPUExecutionProvider'])
            self._infer = lambda array: session.run(None, {'image': array})
        else:
            raise ValueError(f'runtime {runtime!r}: allowed is onnxruntime')

    def __call__(self, x):
        import torch
        arrays = self._infer(x.detach().cpu().contiguous().numpy())
        outputs: dict = {}
        for (head, name), array in zip(self.names, arrays):
            outputs.setdefault(head, {})[name] = torch.from_numpy(array)
        return outputs

    def get_predictions(self, outputs):
        return self.model.get_predictions(outputs)

    @classmethod
    def from_torch(cls, model, model_path: Path, logger=None, cache_dir: Path | None = None,
                   runtime: str = 'onnxruntime') -> 'OnnxPoseNetwork':
        """Export ``model`` (loaded from ``model_path``) to ONNX unless the cache holds it,
        then open it with ``runtime``. The log says which, and how long the export took."""
        import torch
        example = torch.rand(1, 3, *_EXAMPLE_HW_PX)
        names = output_names(model, example)
        folder = cache_dir or onnx_cache_dir()
        key = f'{file_sha256(Path(model_path))[:32]}-torch{torch.__version__.split("+")[0]}-op{OPSET}'
        onnx_path = folder / f'{Path(model_path).stem}-{key}.onnx'
        if onnx_path.is_file():
            if logger:
                logger.info(f'pose.runtime = {runtime}: using the exported network {onnx_path}')
        else:
            t0 = time.perf_counter()
            export_onnx(model, onnx_path, names, example)
            if logger:
                logger.info(f'pose.runtime = {runtime}: exported the network of {model_path} to ONNX in '
                            f'{time.perf_counter() - t0:.1f} s ({onnx_path}; done once per model file)')
        try:
            return cls(model, onnx_path, names, runtime)
        except Exception:   # noqa: BLE001 - not reused next time: the next start exports anew
            onnx_path.unlink(missing_ok=True)
            raise
